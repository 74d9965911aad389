//go:build linux

package netnstest

import "net"

func netInterfaceByName(name string) (int, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return ifc.Index, nil
}
