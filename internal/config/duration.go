package config

import "time"

func parseDuration(s string) (int64, error) {
	d, err := time.ParseDuration(s)
	return int64(d), err
}

// Get returns the duration, or def when unset.
func (d Duration) Get(def time.Duration) time.Duration {
	if d.D == 0 {
		return def
	}
	return time.Duration(d.D)
}
