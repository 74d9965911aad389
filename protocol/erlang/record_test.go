package erlang

import "testing"

func TestRecordLabEPMD(t *testing.T) {
	record(t, NewEPMD(), "lab-epmd-25.2.3", 4369, "real: lab 127.0.0.1:4369, epmd from erlang-base 1:25.2.3+dfsg-1+deb12u4 (Debian 12), RabbitMQ node registered", "")
}

func TestRecordLabDist(t *testing.T) {
	record(t, NewDist(), "lab-rabbitmq-dist-25.2.3", 25672, "real: lab 127.0.0.1:25672, RabbitMQ 3.10.8 node on Erlang/OTP 25.2.3 (Debian 12)", "")
}
