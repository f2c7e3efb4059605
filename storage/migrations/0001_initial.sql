-- The first schema: people, chats, daily challenges, answers, spaced repetition,
-- corrections and the admin audit trail. Times are ISO-8601 UTC text.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    platform      TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (platform, external_id)
);

CREATE TABLE chats (
    id             INTEGER PRIMARY KEY,
    platform       TEXT NOT NULL,
    external_id    TEXT NOT NULL,
    kind           TEXT NOT NULL DEFAULT 'private',
    title          TEXT NOT NULL DEFAULT '',
    timezone       TEXT NOT NULL,
    daily_time     TEXT NOT NULL,            -- HH:MM in the chat's time zone
    language       TEXT NOT NULL DEFAULT 'en',
    daily_enabled  INTEGER NOT NULL DEFAULT 1,
    daily_channel  TEXT,                     -- where to post, when not the chat itself
    active         INTEGER NOT NULL DEFAULT 1, -- 0 once the bot is removed
    next_target    TEXT,                     -- set by an admin for the next challenge
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (platform, external_id)
);

CREATE TABLE challenges (
    id                 INTEGER PRIMARY KEY,
    chat_id            INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    local_date         TEXT NOT NULL,        -- YYYY-MM-DD in the chat's time zone
    target             TEXT NOT NULL,
    source             TEXT NOT NULL DEFAULT 'auto',
    prompt_message_id  TEXT,
    posted_at          TEXT,
    created_at         TEXT NOT NULL,
    UNIQUE (chat_id, local_date)
);

CREATE TABLE attempts (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    chat_id       INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    challenge_id  INTEGER REFERENCES challenges(id) ON DELETE SET NULL,
    kind          TEXT NOT NULL,             -- daily | practice | ocr
    target        TEXT,
    image_ref     TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',  -- pending | graded | failed
    verdict       TEXT,
    predicted     TEXT,
    confidence    REAL,
    points        INTEGER NOT NULL DEFAULT 0,
    received_at   TEXT NOT NULL,
    graded_at     TEXT
);
CREATE INDEX attempts_chat_received ON attempts (chat_id, received_at);
CREATE INDEX attempts_user_received ON attempts (user_id, received_at);
CREATE INDEX attempts_pending ON attempts (status) WHERE status = 'pending';

CREATE TABLE srs_cards (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    item         TEXT NOT NULL,
    due          TEXT NOT NULL,
    card_json    TEXT NOT NULL,              -- the fsrs Card as its own dict
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (user_id, item)
);
CREATE INDEX srs_cards_due ON srs_cards (user_id, due);

CREATE TABLE srs_review_log (
    id            INTEGER PRIMARY KEY,
    card_id       INTEGER NOT NULL REFERENCES srs_cards(id) ON DELETE CASCADE,
    attempt_id    INTEGER REFERENCES attempts(id) ON DELETE SET NULL,
    rating        INTEGER NOT NULL,
    reviewed_at   TEXT NOT NULL,
    log_json      TEXT NOT NULL
);

CREATE TABLE corrections (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    attempt_id   INTEGER REFERENCES attempts(id) ON DELETE SET NULL,
    image_ref    TEXT NOT NULL,
    predicted    TEXT,
    label        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    exported_at  TEXT
);

CREATE TABLE admin_audit (
    id             INTEGER PRIMARY KEY,
    actor_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    chat_id        INTEGER REFERENCES chats(id) ON DELETE SET NULL,
    action         TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL
);
