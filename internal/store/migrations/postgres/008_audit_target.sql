-- The audit log by target (SQLite migration 013): an indicator's status
-- history and who canceled a run are read by target, newest first, on
-- every detail page and activity log; without it each read scans the log,
-- which grows with every change (a bulk status change adds one entry per
-- indicator).
CREATE INDEX audit_log_target ON audit_log (target, id);
