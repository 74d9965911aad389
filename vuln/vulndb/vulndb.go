// Package vulndb keeps the CVE database in the workspace: an SQLite file
// (modernc.org/sqlite, pure Go) holding NVD records with their
// configurations, CISA's KEV catalog and FIRST's EPSS scores, each imported
// separately so that the order of imports does not matter. Products are
// indexed by CPE "vendor:product" for the scan-time lookups.
//
// The schema is versioned by a small migration table (schema_migrations):
// each migration runs once, in order, inside a transaction.
package vulndb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/portrait-scanner/portrait/vuln/cpe"
	"github.com/portrait-scanner/portrait/vuln/epss"
	"github.com/portrait-scanner/portrait/vuln/kev"
	"github.com/portrait-scanner/portrait/vuln/nvd"
)

// Entry is a CVE record with what is known about its exploitation.
type Entry struct {
	CVE *nvd.CVE
	// KEV is set when CISA lists the CVE as exploited (from the KEV import,
	// else from the cisa* fields NVD copies).
	KEV *kev.Entry
	// EPSS is set when scores were imported.
	EPSS     *epss.Score
	EPSSDate string
	// Source names where the record came from: "vulndb" or "builtin".
	Source string
}

// Source looks up the CVE records that name a product. Keys are CPE
// "vendor:product" names.
type Source interface {
	Lookup(ctx context.Context, keys []string) ([]Entry, error)
}

// DB is an open database.
type DB struct {
	db   *sql.DB
	path string
}

// DefaultPath is where the database lives: vulndb.sqlite in the
// workspace ($PORTRAIT_WORKSPACE, else $XDG_DATA_HOME/portrait, else
// ~/.local/share/portrait: the folder `portrait scan` archives scans in).
func DefaultPath() string {
	if ws := os.Getenv("PORTRAIT_WORKSPACE"); ws != "" {
		return filepath.Join(ws, "vulndb.sqlite")
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "portrait", "vulndb.sqlite")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "portrait", "vulndb.sqlite")
	}
	return "vulndb.sqlite"
}

// migrations are applied in order; never edit one that shipped, add more.
var migrations = []string{
	// 1: the initial schema.
	`CREATE TABLE cve (
		id            TEXT PRIMARY KEY,
		published     TEXT NOT NULL DEFAULT '',
		last_modified TEXT NOT NULL DEFAULT '',
		status        TEXT NOT NULL DEFAULT '',
		description   TEXT NOT NULL DEFAULT '',
		cvss_version  TEXT NOT NULL DEFAULT '',
		cvss_vector   TEXT NOT NULL DEFAULT '',
		cvss_score    REAL NOT NULL DEFAULT 0,
		severity      TEXT NOT NULL DEFAULT '',
		cvss_source   TEXT NOT NULL DEFAULT '',
		cwes          TEXT NOT NULL DEFAULT '',
		kev_added     TEXT NOT NULL DEFAULT '',
		kev_due       TEXT NOT NULL DEFAULT '',
		kev_action    TEXT NOT NULL DEFAULT '',
		kev_name      TEXT NOT NULL DEFAULT '',
		configs       TEXT NOT NULL DEFAULT '[]',
		refs          TEXT NOT NULL DEFAULT '[]'
	);
	CREATE TABLE cve_product (
		key    TEXT NOT NULL,
		cve_id TEXT NOT NULL,
		PRIMARY KEY (key, cve_id)
	) WITHOUT ROWID;
	CREATE INDEX cve_product_cve ON cve_product(cve_id);
	CREATE TABLE kev (
		cve_id     TEXT PRIMARY KEY,
		vendor     TEXT NOT NULL DEFAULT '',
		product    TEXT NOT NULL DEFAULT '',
		name       TEXT NOT NULL DEFAULT '',
		date_added TEXT NOT NULL DEFAULT '',
		due_date   TEXT NOT NULL DEFAULT '',
		action     TEXT NOT NULL DEFAULT '',
		ransomware TEXT NOT NULL DEFAULT '',
		notes      TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE epss (
		cve_id     TEXT PRIMARY KEY,
		score      REAL NOT NULL,
		percentile REAL NOT NULL
	);
	CREATE TABLE meta (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);`,
}

// Open opens (creating it and its folder when missing) the database at
// path and brings its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	d := &DB{db: db, path: path}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// OpenReadOnly opens an existing database for lookups. A missing file is
// reported as an error wrapping os.ErrNotExist.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	d := &DB{db: db, path: path}
	v, err := d.schemaVersion(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if v < len(migrations) {
		db.Close()
		return nil, fmt.Errorf("vulndb: %s has schema %d, want %d (run: portrait vulndb status to upgrade it)", path, v, len(migrations))
	}
	return d, nil
}

func dsn(path string, ro bool) string {
	q := "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	if ro {
		q += "&mode=ro"
	} else {
		q += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	return "file:" + path + q
}

// Path is the database file.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func (d *DB) schemaVersion(ctx context.Context) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_migrations'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("vulndb: %s: %w", d.path, err)
	}
	if n == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := d.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("vulndb: %w", err)
	}
	return int(v.Int64), nil
}

func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("vulndb: %s: %w", d.path, err)
	}
	cur, err := d.schemaVersion(ctx)
	if err != nil {
		return err
	}
	if cur > len(migrations) {
		return fmt.Errorf("vulndb: %s was written by a newer portrait (schema %d > %d)", d.path, cur, len(migrations))
	}
	for v := cur + 1; v <= len(migrations); v++ {
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("vulndb: %w", err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			tx.Rollback()
			return fmt.Errorf("vulndb: migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied) VALUES (?, ?)`, v, time.Now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback()
			return fmt.Errorf("vulndb: migration %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("vulndb: migration %d: %w", v, err)
		}
	}
	return nil
}

// batch is how many records one import transaction holds.
const batch = 1000

// ImportResult counts what an import wrote.
type ImportResult struct {
	Records int
	// Newest is the latest lastModified seen (for incremental syncs).
	Newest string
}

// Importer writes CVE records in batched transactions.
type Importer struct {
	d   *DB
	ctx context.Context
	tx  *sql.Tx
	n   int
	res ImportResult
}

// NewImporter starts an import.
func (d *DB) NewImporter(ctx context.Context) *Importer { return &Importer{d: d, ctx: ctx} }

// Add stores one record, replacing an older copy.
func (im *Importer) Add(c *nvd.CVE) error {
	if c == nil || !strings.HasPrefix(c.ID, "CVE-") {
		return nil
	}
	if im.tx == nil {
		tx, err := im.d.db.BeginTx(im.ctx, nil)
		if err != nil {
			return fmt.Errorf("vulndb: %w", err)
		}
		im.tx = tx
	}
	configs, err := json.Marshal(c.Configurations)
	if err != nil {
		return err
	}
	refs, _ := json.Marshal(c.References)
	var cv nvd.CVSS
	if c.CVSS != nil {
		cv = *c.CVSS
	}
	_, err = im.tx.ExecContext(im.ctx, `INSERT INTO cve (id, published, last_modified, status, description,
		cvss_version, cvss_vector, cvss_score, severity, cvss_source, cwes, kev_added, kev_due, kev_action, kev_name, configs, refs)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET published=excluded.published, last_modified=excluded.last_modified,
		status=excluded.status, description=excluded.description, cvss_version=excluded.cvss_version,
		cvss_vector=excluded.cvss_vector, cvss_score=excluded.cvss_score, severity=excluded.severity,
		cvss_source=excluded.cvss_source, cwes=excluded.cwes, kev_added=excluded.kev_added, kev_due=excluded.kev_due,
		kev_action=excluded.kev_action, kev_name=excluded.kev_name, configs=excluded.configs, refs=excluded.refs`,
		c.ID, c.Published, c.LastModified, c.Status, c.Description, cv.Version, cv.Vector, cv.Score, cv.Severity, cv.Source,
		strings.Join(c.CWEs, ","), c.KEVAdded, c.KEVDue, c.KEVAction, c.KEVName, string(configs), string(refs))
	if err != nil {
		return fmt.Errorf("vulndb: %s: %w", c.ID, err)
	}
	if _, err := im.tx.ExecContext(im.ctx, `DELETE FROM cve_product WHERE cve_id = ?`, c.ID); err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	for _, key := range ProductKeys(c) {
		if _, err := im.tx.ExecContext(im.ctx, `INSERT OR IGNORE INTO cve_product(key, cve_id) VALUES (?, ?)`, key, c.ID); err != nil {
			return fmt.Errorf("vulndb: %w", err)
		}
	}
	im.res.Records++
	if c.LastModified > im.res.Newest {
		im.res.Newest = c.LastModified
	}
	im.n++
	if im.n >= batch {
		return im.flush()
	}
	return nil
}

func (im *Importer) flush() error {
	if im.tx == nil {
		return nil
	}
	err := im.tx.Commit()
	im.tx, im.n = nil, 0
	if err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	return nil
}

// Close commits what is pending and returns the counts.
func (im *Importer) Close() (ImportResult, error) {
	return im.res, im.flush()
}

// Abort rolls back what is pending (records of committed batches stay).
func (im *Importer) Abort() {
	if im.tx != nil {
		im.tx.Rollback()
		im.tx = nil
	}
}

// ProductKeys lists the "vendor:product" names a record marks vulnerable.
func ProductKeys(c *nvd.CVE) []string {
	seen := map[string]bool{}
	var keys []string
	for _, cf := range c.Configurations {
		for _, n := range cf.Nodes {
			for _, m := range n.Matches {
				if !m.Vulnerable {
					continue
				}
				name, err := cpe.Parse(m.Criteria)
				if err != nil || seen[name.Key()] {
					continue
				}
				seen[name.Key()] = true
				keys = append(keys, name.Key())
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// ImportKEV replaces the KEV table with the catalog read from r.
func (d *DB) ImportKEV(ctx context.Context, r io.Reader) (kev.Catalog, int, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return kev.Catalog{}, 0, fmt.Errorf("vulndb: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM kev`); err != nil {
		return kev.Catalog{}, 0, fmt.Errorf("vulndb: %w", err)
	}
	cat, n, err := kev.Decode(r, func(e kev.Entry) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO kev(cve_id, vendor, product, name, date_added, due_date, action, ransomware, notes)
			VALUES (?,?,?,?,?,?,?,?,?)`, e.CVE, e.Vendor, e.Product, e.Name, e.DateAdded, e.DueDate, e.Action, e.Ransomware, e.Notes)
		return err
	})
	if err != nil {
		return cat, 0, err
	}
	if err := setMeta(ctx, tx, "kev_catalog", cat.Version); err != nil {
		return cat, 0, err
	}
	if err := tx.Commit(); err != nil {
		return cat, 0, fmt.Errorf("vulndb: %w", err)
	}
	return cat, n, nil
}

// ImportEPSS replaces the EPSS table with the scores read from r.
func (d *DB) ImportEPSS(ctx context.Context, r io.Reader) (epss.Meta, int, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return epss.Meta{}, 0, fmt.Errorf("vulndb: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM epss`); err != nil {
		return epss.Meta{}, 0, fmt.Errorf("vulndb: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO epss(cve_id, score, percentile) VALUES (?,?,?)`)
	if err != nil {
		return epss.Meta{}, 0, fmt.Errorf("vulndb: %w", err)
	}
	defer stmt.Close()
	meta, n, err := epss.Decode(r, func(s epss.Score) error {
		_, err := stmt.ExecContext(ctx, s.CVE, s.EPSS, s.Percentile)
		return err
	})
	if err != nil {
		return meta, 0, err
	}
	if err := setMeta(ctx, tx, "epss_date", meta.Date); err != nil {
		return meta, 0, err
	}
	if err := setMeta(ctx, tx, "epss_model", meta.Model); err != nil {
		return meta, 0, err
	}
	if err := tx.Commit(); err != nil {
		return meta, 0, fmt.Errorf("vulndb: %w", err)
	}
	return meta, n, nil
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func setMeta(ctx context.Context, x execer, key, value string) error {
	_, err := x.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	return nil
}

// SetMeta stores a setting (the last sync time...).
func (d *DB) SetMeta(ctx context.Context, key, value string) error {
	return setMeta(ctx, d.db, key, value)
}

// Meta reads a setting ("" when unset).
func (d *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := d.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("vulndb: %w", err)
	}
	return v, nil
}

// Stats describes the database.
type Stats struct {
	Path       string `json:"path"`
	Schema     int    `json:"schema"`
	CVEs       int    `json:"cves"`
	Products   int    `json:"products"`
	KEV        int    `json:"kev"`
	EPSS       int    `json:"epss"`
	Newest     string `json:"newest_last_modified,omitempty"`
	LastSync   string `json:"last_sync,omitempty"`
	KEVCatalog string `json:"kev_catalog,omitempty"`
	EPSSDate   string `json:"epss_date,omitempty"`
}

// Stats counts what the database holds.
func (d *DB) Stats(ctx context.Context) (Stats, error) {
	s := Stats{Path: d.path}
	var err error
	if s.Schema, err = d.schemaVersion(ctx); err != nil {
		return s, err
	}
	for _, q := range []struct {
		sql string
		dst *int
	}{
		{`SELECT count(*) FROM cve`, &s.CVEs},
		{`SELECT count(DISTINCT key) FROM cve_product`, &s.Products},
		{`SELECT count(*) FROM kev`, &s.KEV},
		{`SELECT count(*) FROM epss`, &s.EPSS},
	} {
		if err := d.db.QueryRowContext(ctx, q.sql).Scan(q.dst); err != nil {
			return s, fmt.Errorf("vulndb: %w", err)
		}
	}
	var newest sql.NullString
	if err := d.db.QueryRowContext(ctx, `SELECT max(last_modified) FROM cve`).Scan(&newest); err != nil {
		return s, fmt.Errorf("vulndb: %w", err)
	}
	s.Newest = newest.String
	s.LastSync, _ = d.Meta(ctx, "nvd_last_sync")
	s.KEVCatalog, _ = d.Meta(ctx, "kev_catalog")
	s.EPSSDate, _ = d.Meta(ctx, "epss_date")
	return s, nil
}

// maxLookupKeys bounds one query's key list.
const maxLookupKeys = 32

// Lookup returns the records that mark any of keys vulnerable, with KEV and
// EPSS joined.
func (d *DB) Lookup(ctx context.Context, keys []string) ([]Entry, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if len(keys) > maxLookupKeys {
		keys = keys[:maxLookupKeys]
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = strings.ToLower(k)
	}
	q := `SELECT c.id, c.published, c.last_modified, c.status, c.description, c.cvss_version, c.cvss_vector, c.cvss_score,
		c.severity, c.cvss_source, c.cwes, c.kev_added, c.kev_due, c.kev_action, c.kev_name, c.configs, c.refs,
		k.cve_id, k.vendor, k.product, k.name, k.date_added, k.due_date, k.action, k.ransomware, k.notes,
		e.score, e.percentile
		FROM cve c
		LEFT JOIN kev k ON k.cve_id = c.id
		LEFT JOIN epss e ON e.cve_id = c.id
		WHERE c.id IN (SELECT cve_id FROM cve_product WHERE key IN (?` + strings.Repeat(",?", len(keys)-1) + `))
		ORDER BY c.id`
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	defer rows.Close()
	epssDate, _ := d.Meta(ctx, "epss_date")
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		if e.EPSS != nil {
			e.EPSSDate = epssDate
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	return out, nil
}

// Get returns one record (nil when absent), also for KEV/EPSS-only ids.
func (d *DB) Get(ctx context.Context, id string) (*Entry, error) {
	id = strings.ToUpper(id)
	rows, err := d.db.QueryContext(ctx, `SELECT c.id, c.published, c.last_modified, c.status, c.description, c.cvss_version, c.cvss_vector, c.cvss_score,
		c.severity, c.cvss_source, c.cwes, c.kev_added, c.kev_due, c.kev_action, c.kev_name, c.configs, c.refs,
		k.cve_id, k.vendor, k.product, k.name, k.date_added, k.due_date, k.action, k.ransomware, k.notes,
		e.score, e.percentile
		FROM cve c LEFT JOIN kev k ON k.cve_id = c.id LEFT JOIN epss e ON e.cve_id = c.id WHERE c.id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	e, err := scanEntry(rows)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// Enrich returns the KEV and EPSS data of ids (for records that came from
// elsewhere, such as the builtin set).
func (d *DB) Enrich(ctx context.Context, id string) (*kev.Entry, *epss.Score, string, error) {
	var k kev.Entry
	var kid sql.NullString
	err := d.db.QueryRowContext(ctx, `SELECT cve_id, vendor, product, name, date_added, due_date, action, ransomware, notes FROM kev WHERE cve_id = ?`, id).
		Scan(&kid, &k.Vendor, &k.Product, &k.Name, &k.DateAdded, &k.DueDate, &k.Action, &k.Ransomware, &k.Notes)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, "", fmt.Errorf("vulndb: %w", err)
	}
	var kp *kev.Entry
	if kid.Valid {
		k.CVE = kid.String
		kp = &k
	}
	var s epss.Score
	err = d.db.QueryRowContext(ctx, `SELECT score, percentile FROM epss WHERE cve_id = ?`, id).Scan(&s.EPSS, &s.Percentile)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, "", fmt.Errorf("vulndb: %w", err)
	}
	var sp *epss.Score
	date := ""
	if err == nil {
		s.CVE = id
		sp = &s
		date, _ = d.Meta(ctx, "epss_date")
	}
	return kp, sp, date, nil
}

type scanner interface{ Scan(dst ...any) error }

func scanEntry(rows scanner) (Entry, error) {
	c := &nvd.CVE{}
	var cv nvd.CVSS
	var cwes, configs, refs string
	var kid, kvendor, kproduct, kname, kadded, kdue, kaction, kransom, knotes sql.NullString
	var escore, eperc sql.NullFloat64
	err := rows.Scan(&c.ID, &c.Published, &c.LastModified, &c.Status, &c.Description, &cv.Version, &cv.Vector, &cv.Score,
		&cv.Severity, &cv.Source, &cwes, &c.KEVAdded, &c.KEVDue, &c.KEVAction, &c.KEVName, &configs, &refs,
		&kid, &kvendor, &kproduct, &kname, &kadded, &kdue, &kaction, &kransom, &knotes, &escore, &eperc)
	if err != nil {
		return Entry{}, fmt.Errorf("vulndb: %w", err)
	}
	if cv.Version != "" || cv.Vector != "" {
		c.CVSS = &cv
	}
	if cwes != "" {
		c.CWEs = strings.Split(cwes, ",")
	}
	if err := json.Unmarshal([]byte(configs), &c.Configurations); err != nil {
		return Entry{}, fmt.Errorf("vulndb: %s configurations: %w", c.ID, err)
	}
	_ = json.Unmarshal([]byte(refs), &c.References)
	e := Entry{CVE: c, Source: "vulndb"}
	if kid.Valid {
		e.KEV = &kev.Entry{CVE: kid.String, Vendor: kvendor.String, Product: kproduct.String, Name: kname.String,
			DateAdded: kadded.String, DueDate: kdue.String, Action: kaction.String, Ransomware: kransom.String, Notes: knotes.String}
	} else if c.KEVAdded != "" {
		e.KEV = &kev.Entry{CVE: c.ID, Name: c.KEVName, DateAdded: c.KEVAdded, DueDate: c.KEVDue, Action: c.KEVAction}
	}
	if escore.Valid {
		e.EPSS = &epss.Score{CVE: c.ID, EPSS: escore.Float64, Percentile: eperc.Float64}
	}
	return e, nil
}
