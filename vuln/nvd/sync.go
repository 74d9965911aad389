package nvd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DefaultURL is NVD's CVE API 2.0 endpoint.
const DefaultURL = "https://services.nvd.nist.gov/rest/json/cves/2.0"

// NVD's published limits: without a key 5 requests per rolling 30 seconds,
// with one 50; a lastModified window may span at most 120 days; a page holds
// at most 2000 records.
const (
	DelayNoKey   = 6 * time.Second
	DelayWithKey = 600 * time.Millisecond
	MaxWindow    = 120 * 24 * time.Hour
	MaxPageSize  = 2000
	maxBody      = 512 << 20 // one page of 2000 records is far below
	timeLayout   = "2006-01-02T15:04:05.000-07:00"
)

// SyncConfig configures Sync.
type SyncConfig struct {
	URL    string // default DefaultURL
	APIKey string // sent as the apiKey header
	// Since, when set, asks only for records modified after it (incremental
	// sync); zero pulls everything.
	Since time.Time
	// Until bounds the window (default now).
	Until    time.Time
	PageSize int           // default MaxPageSize
	Delay    time.Duration // between requests; default per NVD's limits
	Retries  int           // per request on 403/429/5xx and network errors (default 4)
	Client   *http.Client
	Log      *slog.Logger
	// Sleep waits between requests (tests replace it); default honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// SyncResult sums up a sync.
type SyncResult struct {
	Records  int
	Requests int
	// Until is the upper bound that was synced: the next incremental sync
	// starts there.
	Until time.Time
}

// Sync pulls records from the API and calls fn for each. With Since set it
// walks lastModified windows of at most 120 days up to Until; each window
// is paged with startIndex.
func Sync(ctx context.Context, cfg SyncConfig, fn func(*CVE) error) (SyncResult, error) {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.PageSize <= 0 || cfg.PageSize > MaxPageSize {
		cfg.PageSize = MaxPageSize
	}
	if cfg.Delay <= 0 {
		cfg.Delay = DelayNoKey
		if cfg.APIKey != "" {
			cfg.Delay = DelayWithKey
		}
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 4
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Minute}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.Until.IsZero() {
		cfg.Until = time.Now().UTC()
	}
	base, err := url.Parse(cfg.URL)
	if err != nil {
		return SyncResult{}, fmt.Errorf("nvd sync: url: %w", err)
	}
	res := SyncResult{Until: cfg.Until}
	type window struct{ from, to time.Time }
	var windows []window
	if cfg.Since.IsZero() {
		windows = []window{{}}
	} else {
		for from := cfg.Since; from.Before(cfg.Until); from = from.Add(MaxWindow) {
			to := from.Add(MaxWindow)
			if to.After(cfg.Until) {
				to = cfg.Until
			}
			windows = append(windows, window{from, to})
		}
	}
	first := true
	for _, w := range windows {
		for start := 0; ; {
			q := base.Query()
			q.Set("startIndex", strconv.Itoa(start))
			q.Set("resultsPerPage", strconv.Itoa(cfg.PageSize))
			if !w.from.IsZero() {
				q.Set("lastModStartDate", w.from.UTC().Format(timeLayout))
				q.Set("lastModEndDate", w.to.UTC().Format(timeLayout))
			}
			u := *base
			u.RawQuery = q.Encode()
			if !first {
				if err := cfg.Sleep(ctx, cfg.Delay); err != nil {
					return res, err
				}
			}
			first = false
			page, total, err := fetchPage(ctx, cfg, u.String(), fn)
			res.Requests++
			res.Records += page
			if err != nil {
				return res, err
			}
			cfg.Log.Info("nvd page", "start", start, "records", page, "total", total)
			start += page
			if page == 0 || start >= total {
				break
			}
		}
	}
	return res, nil
}

// fetchPage gets one page with retries and streams its records to fn.
func fetchPage(ctx context.Context, cfg SyncConfig, u string, fn func(*CVE) error) (int, int, error) {
	var lastErr error
	for attempt := 0; attempt <= cfg.Retries; attempt++ {
		if attempt > 0 {
			wait := cfg.Delay * time.Duration(1<<attempt)
			cfg.Log.Warn("nvd request failed, retrying", "err", lastErr, "wait", wait)
			if err := cfg.Sleep(ctx, wait); err != nil {
				return 0, 0, err
			}
		}
		n, total, retry, err := fetchOnce(ctx, cfg, u, fn)
		if err == nil {
			return n, total, nil
		}
		if !retry || n > 0 {
			return n, total, err
		}
		lastErr = err
	}
	return 0, 0, fmt.Errorf("nvd sync: giving up after %d attempts: %w", cfg.Retries+1, lastErr)
}

func fetchOnce(ctx context.Context, cfg SyncConfig, u string, fn func(*CVE) error) (n, total int, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, false, fmt.Errorf("nvd sync: %w", err)
	}
	req.Header.Set("User-Agent", "portrait-vulndb")
	if cfg.APIKey != "" {
		req.Header.Set("apiKey", cfg.APIKey)
	}
	resp, err := cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, 0, false, ctx.Err()
		}
		return 0, 0, true, fmt.Errorf("nvd sync: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return 0, 0, true, fmt.Errorf("nvd sync: %s (rate limit or server trouble)", resp.Status)
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if m := resp.Header.Get("Message"); m != "" {
			msg = []byte(m)
		}
		return 0, 0, false, fmt.Errorf("nvd sync: %s: %s", resp.Status, msg)
	}
	body, err := MaybeGunzip(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, 0, false, fmt.Errorf("nvd sync: %w", err)
	}
	dec := json.NewDecoder(body)
	t, err := dec.Token()
	if err != nil {
		return 0, 0, true, fmt.Errorf("nvd sync: %w", err)
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return 0, 0, false, errors.New("nvd sync: the answer is not a JSON object")
	}
	n, rest, err := decodeObject(dec, fn)
	if err != nil {
		return n, 0, n == 0, err
	}
	if raw, ok := rest["totalResults"]; ok {
		_ = json.Unmarshal(raw, &total)
	}
	return n, total, false, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
