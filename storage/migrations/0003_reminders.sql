-- Reminders a user asked for, sent in the private chat where they asked: cards due for
-- review, and a streak about to break. One of each per local day at most.
CREATE TABLE reminders (
    user_id          INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    chat_id          INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    enabled          INTEGER NOT NULL DEFAULT 1,
    last_due_date    TEXT,                  -- local date of the last "cards due" reminder
    last_streak_date TEXT                   -- local date of the last "streak at risk" one
);
CREATE INDEX reminders_enabled ON reminders (enabled) WHERE enabled = 1;
