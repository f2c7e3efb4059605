-- The game around the answers: per-day scores (leaderboards and streaks read these, never
-- the attempts), running totals per chat and overall, hints asked for, the practice card a
-- user is on, and corrections that admins review.

-- One row per user per chat per local day of the chat. "correct" turns 1 once, in the same
-- transaction that adds the day's points, so a day is never counted twice.
CREATE TABLE daily_scores (
    chat_id     INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    local_date  TEXT NOT NULL,
    points      INTEGER NOT NULL DEFAULT 0,
    correct     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id, local_date)
) WITHOUT ROWID;
CREATE INDEX daily_scores_day ON daily_scores (chat_id, local_date, points DESC);
CREATE INDEX daily_scores_user ON daily_scores (user_id, chat_id, local_date);

-- Running totals, kept in step with daily_scores, so "all time" ranks are an index walk.
CREATE TABLE chat_totals (
    chat_id  INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    points   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;
CREATE INDEX chat_totals_rank ON chat_totals (chat_id, points DESC, user_id);

CREATE TABLE user_totals (
    user_id  INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    points   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX user_totals_rank ON user_totals (points DESC, user_id);

-- What the model thought, kept with each graded answer for corrections and export.
ALTER TABLE attempts ADD COLUMN scores_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE attempts ADD COLUMN model_version TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN hints INTEGER NOT NULL DEFAULT 0;
CREATE INDEX attempts_challenge_user ON attempts (challenge_id, user_id);

-- Hints a user asked for (or was given after a wrong answer) on one challenge or card.
CREATE TABLE hints (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    chat_id       INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    challenge_id  INTEGER REFERENCES challenges(id) ON DELETE CASCADE,
    item          TEXT NOT NULL,
    level         INTEGER NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX hints_user_item ON hints (user_id, chat_id, item);

-- The card a user is practising in a chat (one at a time), and when it was shown.
CREATE TABLE practice (
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    chat_id   INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    item      TEXT NOT NULL,
    shown_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, chat_id)
) WITHOUT ROWID;

ALTER TABLE corrections ADD COLUMN chat_id INTEGER REFERENCES chats(id) ON DELETE SET NULL;
ALTER TABLE corrections ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE corrections ADD COLUMN scores_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE corrections ADD COLUMN model_version TEXT NOT NULL DEFAULT '';
ALTER TABLE corrections ADD COLUMN reviewed_by INTEGER REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE corrections ADD COLUMN reviewed_at TEXT;
CREATE INDEX corrections_status ON corrections (status, chat_id);

-- Answers graded before this migration keep their points.
INSERT INTO daily_scores (chat_id, user_id, local_date, points, correct)
SELECT a.chat_id, a.user_id, c.local_date, SUM(a.points), 1
FROM attempts a JOIN challenges c ON c.id = a.challenge_id
WHERE a.kind = 'daily'
GROUP BY a.chat_id, a.user_id, c.local_date
HAVING MAX(a.verdict = 'correct') = 1;

INSERT INTO chat_totals (chat_id, user_id, points)
SELECT chat_id, user_id, SUM(points) FROM daily_scores GROUP BY chat_id, user_id;

INSERT INTO user_totals (user_id, points)
SELECT user_id, SUM(points) FROM daily_scores GROUP BY user_id;
