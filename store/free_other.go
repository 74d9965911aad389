//go:build !unix

package store

func freeSpace(string) (int64, bool) { return 0, false }
