-- ballast schema, version 2: a version on every bot's state, moved on by every
-- versioned write (Store::commit), so two writers can never lose an update.
ALTER TABLE bot_state ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
