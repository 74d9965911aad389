//go:build !unix

package connect

// classifyErrno on systems without unix errnos leaves everything to the
// generic timeout check; refusals then show as local errors.
func classifyErrno(err error) (verdict, bool) { return verdict{}, false }
