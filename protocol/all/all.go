// Package all lists the builtin protocol modules: the explicit registry the
// engine is built from (no init-time global registration).
package all

import (
	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/amqp"
	"github.com/portrait-scanner/portrait/protocol/dns"
	"github.com/portrait-scanner/portrait/protocol/erlang"
	"github.com/portrait-scanner/portrait/protocol/ftp"
	"github.com/portrait-scanner/portrait/protocol/git"
	"github.com/portrait-scanner/portrait/protocol/http"
	"github.com/portrait-scanner/portrait/protocol/imap"
	"github.com/portrait-scanner/portrait/protocol/irc"
	"github.com/portrait-scanner/portrait/protocol/ldap"
	"github.com/portrait-scanner/portrait/protocol/memcached"
	"github.com/portrait-scanner/portrait/protocol/mongodb"
	"github.com/portrait-scanner/portrait/protocol/mqtt"
	"github.com/portrait-scanner/portrait/protocol/mysql"
	"github.com/portrait-scanner/portrait/protocol/nats"
	"github.com/portrait-scanner/portrait/protocol/pop3"
	"github.com/portrait-scanner/portrait/protocol/postgresql"
	"github.com/portrait-scanner/portrait/protocol/rdp"
	"github.com/portrait-scanner/portrait/protocol/redis"
	"github.com/portrait-scanner/portrait/protocol/rsync"
	"github.com/portrait-scanner/portrait/protocol/simple"
	"github.com/portrait-scanner/portrait/protocol/sip"
	"github.com/portrait-scanner/portrait/protocol/smb"
	"github.com/portrait-scanner/portrait/protocol/smtp"
	"github.com/portrait-scanner/portrait/protocol/ssh"
	"github.com/portrait-scanner/portrait/protocol/telnet"
	"github.com/portrait-scanner/portrait/protocol/vnc"
	"github.com/portrait-scanner/portrait/protocol/xmpp"
	"github.com/portrait-scanner/portrait/protocol/zookeeper"
)

// Modules returns a fresh instance of every builtin protocol module.
func Modules() []protocol.Module {
	return []protocol.Module{
		amqp.New(),
		dns.New(),
		erlang.NewDist(),
		erlang.NewEPMD(),
		ftp.New(),
		git.New(),
		http.New(),
		imap.New(),
		irc.New(),
		ldap.New(),
		memcached.New(),
		mongodb.New(),
		mqtt.New(),
		mysql.New(),
		nats.New(),
		pop3.New(),
		postgresql.New(),
		rdp.New(),
		redis.New(),
		rsync.New(),
		simple.NewDaytime(),
		simple.NewEcho(),
		simple.NewTime(),
		sip.New(),
		smb.New(),
		smtp.New(),
		ssh.New(),
		telnet.New(),
		vnc.New(),
		xmpp.New(),
		zookeeper.New(),
	}
}
