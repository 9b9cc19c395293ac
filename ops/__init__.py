"""Running the hub in production: backups that restore, safe upgrades, ``hub doctor``, JSON logs."""
