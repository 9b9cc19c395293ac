"""speech: transcription jobs, words, analytics flags, search documents

Revision ID: 0004s
Revises: 0003
Create Date: 2026-11-25 06:40:00
"""
from alembic import op
import sqlalchemy as sa
import crm_core.models.base
import crm_core.models.speech


revision = '0004s'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('speech_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('transcript_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=120), nullable=True),
    sa.Column('lease_until', crm_core.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('started_at', crm_core.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', crm_core.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', crm_core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_speech_jobs_recording_id_recordings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['transcript_id'], ['transcripts.id'], name=op.f('fk_speech_jobs_transcript_id_transcripts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speech_jobs')),
    sa.UniqueConstraint('recording_id', name=op.f('uq_speech_jobs_recording_id'))
    )
    with op.batch_alter_table('speech_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_speech_jobs_status_lease', ['status', 'lease_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_speech_jobs_transcript_id'), ['transcript_id'], unique=False)

    op.create_table('speech_words',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transcript_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('speaker', sa.String(length=20), nullable=False),
    sa.Column('word', sa.String(length=200), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=False),
    sa.Column('conf', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['transcript_id'], ['transcripts.id'], name=op.f('fk_speech_words_transcript_id_transcripts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speech_words')),
    sa.UniqueConstraint('transcript_id', 'position', name=op.f('uq_speech_words_transcript_id_position'))
    )
    op.create_table('speech_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transcript_id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('phrase', sa.String(length=300), nullable=False),
    sa.Column('heard', sa.String(length=300), nullable=True),
    sa.Column('at_s', sa.Float(), nullable=True),
    sa.Column('speaker', sa.String(length=20), nullable=True),
    sa.Column('created_at', crm_core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_speech_flags_call_id_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['transcript_id'], ['transcripts.id'], name=op.f('fk_speech_flags_transcript_id_transcripts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speech_flags'))
    )
    with op.batch_alter_table('speech_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_speech_flags_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_speech_flags_transcript_id'), ['transcript_id'], unique=False)

    op.create_table('speech_documents',
    sa.Column('transcript_id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('tsv', crm_core.models.speech.SearchVector(), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_speech_documents_call_id_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['transcript_id'], ['transcripts.id'], name=op.f('fk_speech_documents_transcript_id_transcripts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('transcript_id', name=op.f('pk_speech_documents'))
    )
    with op.batch_alter_table('speech_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_speech_documents_call_id'), ['call_id'], unique=False)
        batch_op.create_index('ix_speech_documents_tsv', ['tsv'], unique=False, postgresql_using='gin')


def downgrade() -> None:
    op.drop_table('speech_documents')
    op.drop_table('speech_flags')
    op.drop_table('speech_words')
    op.drop_table('speech_jobs')
