-- The workspace index: a cache of the scans' results.jsonl files for
-- queries across scans. `portrait workspace reindex` rebuilds it.

-- +goose Up
CREATE TABLE scans (
    id          TEXT PRIMARY KEY,
    started     TEXT NOT NULL DEFAULT '',
    finished    TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL DEFAULT '',
    scanner     TEXT NOT NULL DEFAULT '',
    targets     TEXT NOT NULL DEFAULT '',
    ports       INTEGER NOT NULL DEFAULT 0,
    hosts       INTEGER NOT NULL DEFAULT 0,
    open        INTEGER NOT NULL DEFAULT 0,
    services    INTEGER NOT NULL DEFAULT 0,
    findings    INTEGER NOT NULL DEFAULT 0,
    wall_time_s REAL NOT NULL DEFAULT 0,
    indexed     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX scans_started ON scans(started);

CREATE TABLE hosts (
    scan_id  TEXT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    host     TEXT NOT NULL,
    hostname TEXT NOT NULL DEFAULT '',
    state    TEXT NOT NULL DEFAULT '',
    reason   TEXT NOT NULL DEFAULT '',
    open     INTEGER NOT NULL DEFAULT 0,
    closed   INTEGER NOT NULL DEFAULT 0,
    filtered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scan_id, host)
);
CREATE INDEX hosts_host ON hosts(host);

CREATE TABLE ports (
    scan_id   TEXT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    host      TEXT NOT NULL,
    port      INTEGER NOT NULL,
    transport TEXT NOT NULL,
    state     TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (scan_id, host, transport, port)
);
CREATE INDEX ports_host ON ports(host, port);

CREATE TABLE services (
    scan_id    TEXT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    host       TEXT NOT NULL,
    port       INTEGER NOT NULL,
    transport  TEXT NOT NULL,
    service    TEXT NOT NULL DEFAULT '',
    tls        INTEGER NOT NULL DEFAULT 0,
    product    TEXT NOT NULL DEFAULT '',
    version    TEXT NOT NULL DEFAULT '',
    extrainfo  TEXT NOT NULL DEFAULT '',
    os         TEXT NOT NULL DEFAULT '',
    device     TEXT NOT NULL DEFAULT '',
    cpe        TEXT NOT NULL DEFAULT '',
    confidence INTEGER NOT NULL DEFAULT 0,
    method     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (scan_id, host, transport, port)
);
CREATE INDEX services_product ON services(product, version);
CREATE INDEX services_service ON services(service);

CREATE TABLE findings (
    scan_id  TEXT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    host     TEXT NOT NULL DEFAULT '',
    port     INTEGER NOT NULL DEFAULT 0,
    id       TEXT NOT NULL DEFAULT '',
    title    TEXT NOT NULL DEFAULT '',
    severity TEXT NOT NULL DEFAULT '',
    record   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (scan_id, seq)
);
CREATE INDEX findings_id ON findings(id);

-- +goose Down
DROP TABLE findings;
DROP TABLE services;
DROP TABLE ports;
DROP TABLE hosts;
DROP TABLE scans;
