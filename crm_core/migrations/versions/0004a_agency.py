"""agency workflow: funnel stages, results directory, deals and steps, property links, owner leads;
properties get liquidity and department

Revision ID: 0004a
Revises: 0003
Create Date: 2026-11-25 06:50:00
"""
from alembic import op
import sqlalchemy as sa
import crm_core.models.base


revision = '0004a'
down_revision = '0003'
branch_labels = None
depends_on = None

DT = crm_core.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (SQLite accepts REFERENCES on an added nullable column); no table
    # rebuild, so existing rows and the foreign keys pointing at properties stay untouched.
    op.add_column('properties', sa.Column('liquidity', sa.String(length=10), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE properties ADD COLUMN department_id INTEGER '
                   'CONSTRAINT fk_properties_department_id_departments REFERENCES departments (id)')
    else:
        op.add_column('properties', sa.Column('department_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_properties_department_id_departments'), 'properties', 'departments',
                              ['department_id'], ['id'])
    op.create_index(op.f('ix_properties_department_id'), 'properties', ['department_id'], unique=False)
    op.add_column('properties', sa.Column('address_key', sa.String(length=500), nullable=True))
    op.create_index(op.f('ix_properties_address_key'), 'properties', ['address_key'], unique=False)

    op.create_table('agency_funnel_stages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_key', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('positive', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', DT, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_funnel_stages')),
    sa.UniqueConstraint('list_key', 'name', name=op.f('uq_agency_funnel_stages_list_key_name'))
    )
    op.create_index(op.f('ix_agency_funnel_stages_list_key'), 'agency_funnel_stages', ['list_key'], unique=False)
    op.create_table('agency_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('applies_to', sa.String(length=20), nullable=False),
    sa.Column('positive', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', DT, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_results')),
    sa.UniqueConstraint('name', name=op.f('uq_agency_results_name'))
    )
    op.create_table('agency_deals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inquiry_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('stage_id', sa.Integer(), nullable=True),
    sa.Column('property_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reached_positive_at', DT, nullable=True),
    sa.Column('closed_at', DT, nullable=True),
    sa.Column('updated_at', DT, nullable=False),
    sa.Column('created_at', DT, nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_agency_deals_agent_id_users')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_agency_deals_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_agency_deals_department_id_departments')),
    sa.ForeignKeyConstraint(['inquiry_id'], ['inquiries.id'], name=op.f('fk_agency_deals_inquiry_id_inquiries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_agency_deals_property_id_properties'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['stage_id'], ['agency_funnel_stages.id'], name=op.f('fk_agency_deals_stage_id_agency_funnel_stages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_deals')),
    sa.UniqueConstraint('inquiry_id', name=op.f('uq_agency_deals_inquiry_id'))
    )
    op.create_index(op.f('ix_agency_deals_agent_id'), 'agency_deals', ['agent_id'], unique=False)
    op.create_index(op.f('ix_agency_deals_client_id'), 'agency_deals', ['client_id'], unique=False)
    op.create_index(op.f('ix_agency_deals_department_id'), 'agency_deals', ['department_id'], unique=False)
    op.create_index(op.f('ix_agency_deals_status'), 'agency_deals', ['status'], unique=False)
    op.create_table('agency_deal_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('at', DT, nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('property_id', sa.Integer(), nullable=True),
    sa.Column('result_id', sa.Integer(), nullable=True),
    sa.Column('stage_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', DT, nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_agency_deal_steps_agent_id_users')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_agency_deal_steps_created_by_users')),
    sa.ForeignKeyConstraint(['deal_id'], ['agency_deals.id'], name=op.f('fk_agency_deal_steps_deal_id_agency_deals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_agency_deal_steps_property_id_properties'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['result_id'], ['agency_results.id'], name=op.f('fk_agency_deal_steps_result_id_agency_results'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['stage_id'], ['agency_funnel_stages.id'], name=op.f('fk_agency_deal_steps_stage_id_agency_funnel_stages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_agency_deal_steps_task_id_tasks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_deal_steps'))
    )
    op.create_index('ix_agency_deal_steps_deal_at', 'agency_deal_steps', ['deal_id', 'at'], unique=False)
    op.create_index(op.f('ix_agency_deal_steps_agent_id'), 'agency_deal_steps', ['agent_id'], unique=False)
    op.create_index(op.f('ix_agency_deal_steps_property_id'), 'agency_deal_steps', ['property_id'], unique=False)
    op.create_table('agency_property_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('inquiry_id', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('at', DT, nullable=False),
    sa.Column('linked_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_agency_property_links_call_id_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inquiry_id'], ['inquiries.id'], name=op.f('fk_agency_property_links_inquiry_id_inquiries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['linked_by'], ['users.id'], name=op.f('fk_agency_property_links_linked_by_users')),
    sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_agency_property_links_property_id_properties'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_property_links')),
    sa.UniqueConstraint('property_id', 'call_id', name=op.f('uq_agency_property_links_property_id_call_id')),
    sa.UniqueConstraint('property_id', 'inquiry_id', name=op.f('uq_agency_property_links_property_id_inquiry_id'))
    )
    op.create_index(op.f('ix_agency_property_links_call_id'), 'agency_property_links', ['call_id'], unique=False)
    op.create_index(op.f('ix_agency_property_links_inquiry_id'), 'agency_property_links', ['inquiry_id'], unique=False)
    op.create_index(op.f('ix_agency_property_links_property_id'), 'agency_property_links', ['property_id'], unique=False)
    op.create_table('agency_owner_leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address_key', sa.String(length=500), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('owner_name', sa.String(length=300), nullable=True),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('updated_at', DT, nullable=False),
    sa.Column('created_at', DT, nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_agency_owner_leads_department_id_departments')),
    sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_agency_owner_leads_property_id_properties'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_agency_owner_leads_task_id_tasks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_owner_leads')),
    sa.UniqueConstraint('address_key', 'phone', name=op.f('uq_agency_owner_leads_address_key_phone'))
    )
    op.create_index(op.f('ix_agency_owner_leads_department_id'), 'agency_owner_leads', ['department_id'], unique=False)
    op.create_index(op.f('ix_agency_owner_leads_property_id'), 'agency_owner_leads', ['property_id'], unique=False)
    op.create_index(op.f('ix_agency_owner_leads_status'), 'agency_owner_leads', ['status'], unique=False)


def downgrade() -> None:
    for table in ('agency_owner_leads', 'agency_property_links', 'agency_deal_steps', 'agency_deals',
                  'agency_results', 'agency_funnel_stages'):
        op.drop_table(table)
    op.drop_index(op.f('ix_properties_department_id'), table_name='properties')
    op.drop_index(op.f('ix_properties_address_key'), table_name='properties')
    with op.batch_alter_table('properties') as batch_op:
        batch_op.drop_column('address_key')
        batch_op.drop_column('department_id')
        batch_op.drop_column('liquidity')
