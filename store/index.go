package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite": no cgo
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Index is the workspace's SQLite index: scans, hosts, ports, services and
// findings of every archived scan, for queries across scans. It is a cache
// of the results files (Reindex rebuilds it from them); its schema evolves
// through numbered goose migrations (store/migrations).
type Index struct {
	db *sql.DB
}

// OpenIndex opens the workspace's index.db, creating it and applying any
// pending migration.
func (w *Workspace) OpenIndex() (*Index, error) {
	return OpenIndexFile(w.Dir + string(os.PathSeparator) + IndexFile)
}

// OpenIndexFile opens an index database file.
func OpenIndexFile(path string) (*Index, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises anyway
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		db.Close()
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("index migrations: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.Up(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("index migrations: %w", err)
	}
	return &Index{db: db}, nil
}

// Close closes the database.
func (ix *Index) Close() error { return ix.db.Close() }

// Version is the schema version (the last migration applied).
func (ix *Index) Version() (int64, error) {
	var v int64
	err := ix.db.QueryRow(`SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, err
}

// Put replaces a scan's rows with what res holds.
func (ix *Index) Put(id string, res *Results, st *Status) error {
	tx, err := ix.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`DELETE FROM scans WHERE id = ?`, id); err != nil {
		return err
	}
	m := res.Meta()
	state, finished := StateDone, m.Finished
	if !res.Complete() {
		state = StateInterrupted
	}
	if st != nil {
		if s := st.Effective(); s != StateDone || res.Complete() {
			state = s
		}
	}
	findings := res.Findings()
	if _, err := tx.Exec(`INSERT INTO scans (id, started, finished, state, scanner, targets, ports, hosts, open, services, findings, wall_time_s, indexed)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		id, m.Started, finished, state, m.Scanner, strings.Join(m.Targets, " "), m.Ports, m.Hosts, m.Open,
		len(res.Services), len(findings), m.WallTimeS, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	hs, err := tx.Prepare(`INSERT OR REPLACE INTO hosts (scan_id, host, hostname, state, reason, open, closed, filtered) VALUES (?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer hs.Close()
	for _, h := range res.Hosts {
		if _, err := hs.Exec(id, h.Host, h.Hostname, h.State, h.Reason, h.Open, h.Closed, h.Filtered); err != nil {
			return err
		}
	}
	ps, err := tx.Prepare(`INSERT OR REPLACE INTO ports (scan_id, host, port, transport, state, reason) VALUES (?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer ps.Close()
	for _, p := range res.Ports {
		if _, err := ps.Exec(id, p.Host, p.Port, transportOf(p.Transport), p.State, p.Reason); err != nil {
			return err
		}
	}
	ss, err := tx.Prepare(`INSERT OR REPLACE INTO services (scan_id, host, port, transport, service, tls, product, version, extrainfo, os, device, cpe, confidence, method)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer ss.Close()
	for _, s := range res.Services {
		tls := 0
		if s.TLS {
			tls = 1
		}
		if _, err := ss.Exec(id, s.Host, s.Port, transportOf(s.Transport), s.Service, tls, s.Product, s.Version, s.Info, s.OS, s.Device, s.CPE, s.Confidence, s.Method); err != nil {
			return err
		}
	}
	fs, err := tx.Prepare(`INSERT INTO findings (scan_id, seq, host, port, id, title, severity, record) VALUES (?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer fs.Close()
	seq := 0
	for _, r := range res.Records {
		if r.Type != "finding" {
			continue
		}
		f := r.AsFinding()
		seq++
		if _, err := fs.Exec(id, seq, f.Host, f.Port, f.ID, f.Title, f.Severity, string(r.Raw)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Delete removes a scan's rows.
func (ix *Index) Delete(id string) error {
	_, err := ix.db.Exec(`DELETE FROM scans WHERE id = ?`, id)
	return err
}

// Reindex rebuilds the index from every scan's results file. Scans whose
// file cannot be read are skipped and returned as errors.
func (w *Workspace) Reindex() (n int, errs []error, err error) {
	ix, err := w.OpenIndex()
	if err != nil {
		return 0, nil, err
	}
	defer ix.Close()
	if _, err := ix.db.Exec(`DELETE FROM scans`); err != nil {
		return 0, nil, err
	}
	ids, err := w.IDs()
	if err != nil {
		return 0, nil, err
	}
	for _, id := range ids {
		if e := w.IndexScan(ix, id); e != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, e))
			continue
		}
		n++
	}
	return n, errs, nil
}

// IndexScan (re)indexes one scan from its files.
func (w *Workspace) IndexScan(ix *Index, id string) error {
	res, err := w.Results(id)
	if err != nil {
		return err
	}
	st, err := w.Status(id)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return ix.Put(id, res, st)
}

// ScanRow is one scan as the index lists it.
type ScanRow struct {
	ID        string
	Started   string
	Finished  string
	State     string
	Targets   string
	Ports     int
	Hosts     int
	Open      int
	Services  int
	Findings  int
	WallTimeS float64
}

// Query filters the scans listed by ScanRows. Empty fields match all.
type Query struct {
	Host    string // an address or hostname seen in the scan
	Service string // nmap service name
	Product string // product name (case-insensitive substring)
	Version string // exact version
	Port    int
}

// ScanRows lists the indexed scans matching q, oldest first.
func (ix *Index) ScanRows(q Query) ([]ScanRow, error) {
	var where []string
	var args []any
	if q.Host != "" {
		where = append(where, `id IN (SELECT scan_id FROM hosts WHERE host = ? OR hostname = ? UNION SELECT scan_id FROM ports WHERE host = ?)`)
		args = append(args, q.Host, q.Host, q.Host)
	}
	if q.Service != "" || q.Product != "" || q.Version != "" || q.Port != 0 {
		sub := `SELECT scan_id FROM services WHERE 1=1`
		if q.Service != "" {
			sub += ` AND service = ?`
			args = append(args, q.Service)
		}
		if q.Product != "" {
			sub += ` AND lower(product) LIKE ?`
			args = append(args, "%"+strings.ToLower(q.Product)+"%")
		}
		if q.Version != "" {
			sub += ` AND version = ?`
			args = append(args, q.Version)
		}
		if q.Port != 0 {
			sub += ` AND port = ?`
			args = append(args, q.Port)
		}
		where = append(where, `id IN (`+sub+`)`)
	}
	sqlq := `SELECT id, started, finished, state, targets, ports, hosts, open, services, findings, wall_time_s FROM scans`
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlq += ` ORDER BY id`
	rows, err := ix.db.Query(sqlq, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ScanRow
	for rows.Next() {
		var r ScanRow
		if err := rows.Scan(&r.ID, &r.Started, &r.Finished, &r.State, &r.Targets, &r.Ports, &r.Hosts, &r.Open, &r.Services, &r.Findings, &r.WallTimeS); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ServiceHistory lists every indexed service record of a host (and port,
// when not 0) across scans, oldest scan first: how a port changed.
func (ix *Index) ServiceHistory(host string, port int) ([]ServiceRow, error) {
	q := `SELECT scan_id, host, port, transport, service, product, version FROM services WHERE host = ?`
	args := []any{host}
	if port != 0 {
		q += ` AND port = ?`
		args = append(args, port)
	}
	q += ` ORDER BY scan_id, port`
	rows, err := ix.db.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ServiceRow
	for rows.Next() {
		var r ServiceRow
		if err := rows.Scan(&r.ScanID, &r.Host, &r.Port, &r.Transport, &r.Service, &r.Product, &r.Version); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ServiceRow is one indexed service.
type ServiceRow struct {
	ScanID, Host       string
	Port               int
	Transport, Service string
	Product, Version   string
}
