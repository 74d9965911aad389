package erlang

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRecordLabEPMD(t *testing.T) {
	prototest.Record(t, NewEPMD(), prototest.Recording{Name: "lab-epmd-25.2.3", Port: 4369, Note: "real: lab 127.0.0.1:4369, epmd from erlang-base 1:25.2.3+dfsg-1+deb12u4 (Debian 12), RabbitMQ node registered"})
}

func TestRecordLabDist(t *testing.T) {
	prototest.Record(t, NewDist(), prototest.Recording{Name: "lab-rabbitmq-dist-25.2.3", Port: 25672, Note: "real: lab 127.0.0.1:25672, RabbitMQ 3.10.8 node on Erlang/OTP 25.2.3 (Debian 12)"})
}
