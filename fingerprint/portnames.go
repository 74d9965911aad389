package fingerprint

// portNames is the port prior of last resort: the service a port number
// usually carries, reported with method "table" and a confidence of at most
// 40 when nothing on the wire said more. The names are nmap's service names
// (the IANA names people know); the list is the project's own.
var portNames = map[int]string{
	7: "echo", 9: "discard", 13: "daytime", 19: "chargen", 21: "ftp", 22: "ssh", 23: "telnet",
	25: "smtp", 37: "time", 43: "whois", 53: "domain", 69: "tftp", 70: "gopher", 79: "finger",
	80: "http", 88: "kerberos-sec", 106: "pop3pw", 110: "pop3", 111: "rpcbind", 113: "ident",
	119: "nntp", 123: "ntp", 135: "msrpc", 137: "netbios-ns", 139: "netbios-ssn", 143: "imap",
	161: "snmp", 179: "bgp", 389: "ldap", 427: "svrloc", 443: "https", 444: "snpp",
	445: "microsoft-ds", 465: "smtps", 500: "isakmp", 512: "exec", 513: "login", 514: "shell",
	515: "printer", 548: "afp", 554: "rtsp", 587: "submission", 631: "ipp", 636: "ldapssl",
	873: "rsync", 902: "vmware-auth", 990: "ftps", 993: "imaps", 995: "pop3s", 1080: "socks",
	1194: "openvpn", 1433: "ms-sql-s", 1521: "oracle", 1723: "pptp", 1883: "mqtt", 2049: "nfs",
	2181: "zookeeper", 2375: "docker", 2376: "docker", 2379: "etcd-client", 2380: "etcd-server",
	3000: "ppp", 3128: "squid-http", 3260: "iscsi", 3306: "mysql", 3389: "ms-wbt-server",
	3690: "svn", 4222: "nats", 4369: "epmd", 5000: "upnp", 5060: "sip", 5222: "xmpp-client",
	5269: "xmpp-server", 5432: "postgresql", 5672: "amqp", 5900: "vnc", 5901: "vnc-1",
	5984: "couchdb", 6379: "redis", 6443: "sun-sr-https", 6667: "irc", 8000: "http-alt",
	8008: "http", 8080: "http-proxy", 8081: "blackice-icecap", 8443: "https-alt", 8883: "secure-mqtt",
	9000: "cslistener", 9042: "cassandra", 9090: "zeus-admin", 9092: "kafka", 9200: "elasticsearch",
	9418: "git", 11211: "memcache", 15672: "rabbitmq-mgmt", 25672: "erlang-dist", 27017: "mongod",
}

func portName(p int) string { return portNames[p] }
