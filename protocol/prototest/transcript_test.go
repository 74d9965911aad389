package prototest

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTranscriptEncodings: both encodings carry every byte value unchanged,
// and the file names its encoding only when it is not the default.
func TestTranscriptEncodings(t *testing.T) {
	var all []byte
	for i := 0; i < 256; i++ {
		all = append(all, byte(i))
	}
	for _, enc := range []string{"", EncodingHex, EncodingLatin1} {
		t.Run("enc="+enc, func(t *testing.T) {
			tr := &Transcript{Note: "n", Encoding: enc, TLS: true, Conns: [][]Step{
				{{Got: "hello\r\n"}, {Sent: string(all), Got: string(all), Close: true}},
				{{Sent: "STARTTLS\r\n", Got: "220 go\r\n", StartTLS: true}},
			}}
			b, err := json.Marshal(tr)
			if err != nil {
				t.Fatal(err)
			}
			if named := strings.Contains(string(b), `"encoding"`); named != (enc == EncodingLatin1) {
				t.Errorf("encoding named = %v in %s", named, b)
			}
			var back Transcript
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Note != "n" || !back.TLS || len(back.Conns) != 2 || len(back.Conns[0]) != 2 {
				t.Fatalf("shape %+v", back)
			}
			if s := back.Conns[0][1]; s.Sent != string(all) || s.Got != string(all) || !s.Close {
				t.Errorf("bytes changed: %+v", s)
			}
			if s := back.Conns[1][0]; !s.StartTLS || s.Sent != "STARTTLS\r\n" {
				t.Errorf("step %+v", s)
			}
			if got := back.Answers(); len(got) != 3 || string(got[0]) != "hello\r\n" {
				t.Errorf("answers %q", got)
			}
		})
	}
}

func TestTranscriptBadFiles(t *testing.T) {
	for _, in := range []string{
		`{"conns":[[{"got":"zz"}]]}`,
		`{"encoding":"latin1","conns":[[{"got":"\u0100"}]]}`,
		`{"encoding":"base64","conns":[]}`,
	} {
		var tr Transcript
		if err := json.Unmarshal([]byte(in), &tr); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

// TestServeTranscript: the fake server answers each request in turn, reads
// no further than the recorded request, and hangs up where recorded.
func TestServeTranscript(t *testing.T) {
	tr := &Transcript{Conns: [][]Step{
		{{Got: "hi\r\n"}, {Sent: "PING\r\n", Got: "PONG\r\n"}, {Sent: "QUIT\r\n", Got: "BYE\r\n", Close: true}},
		{{Sent: "X", Got: "Y"}},
	}}
	for _, exact := range []bool{false, true} {
		addr := ServeTranscript(t, tr, Options{Exact: exact})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		expect := func(want string) {
			t.Helper()
			line, err := r.ReadString('\n')
			if line != want {
				t.Fatalf("read %q (%v), want %q", line, err, want)
			}
		}
		expect("hi\r\n")
		// Both requests in one write: the server must take them one by one.
		if _, err := c.Write([]byte("PING\r\nQUIT\r\n")); err != nil {
			t.Fatal(err)
		}
		expect("PONG\r\n")
		expect("BYE\r\n")
		if _, err := r.ReadByte(); err == nil {
			t.Error("server did not hang up")
		}
		c.Close()
		c, err = net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("X")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := c.Read(b); err != nil || b[0] != 'Y' {
			t.Errorf("second conn: %q %v", b, err)
		}
		c.Close()
	}
}

// TestServeTranscriptShortRequest: a request shorter than recorded (a random
// token of another length) is answered once the client pauses.
func TestServeTranscriptShortRequest(t *testing.T) {
	tr := &Transcript{Conns: [][]Step{{{Sent: "TOKEN-0123456789\r\n", Got: "OK\r\n"}}}}
	c, err := net.Dial("tcp", ServeTranscript(t, tr, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("TOKEN-01\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if line != "OK\r\n" {
		t.Errorf("read %q (%v)", line, err)
	}
}

func TestServeTranscriptLoose(t *testing.T) {
	tr := &Transcript{Conns: [][]Step{{{Got: "hi\r\n"}, {Sent: "A\r\n", Got: "1\r\n"}, {Sent: "B\r\n", Got: "2\r\n"}}}}
	c, err := net.Dial("tcp", ServeTranscript(t, tr, Options{Loose: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	for _, step := range []struct{ send, want string }{{"", "hi\r\n"}, {"whatever\r\n", "1\r\n"}, {"?", "2\r\n"}} {
		if step.send != "" {
			if _, err := c.Write([]byte(step.send)); err != nil {
				t.Fatal(err)
			}
		}
		if line, err := r.ReadString('\n'); line != step.want {
			t.Fatalf("read %q (%v), want %q", line, err, step.want)
		}
	}
}

// TestServeTranscriptExactPause: with Exact, a recorded step holding two
// writes (the first never answered) waits through the client's pause.
func TestServeTranscriptExactPause(t *testing.T) {
	tr := &Transcript{Conns: [][]Step{{{Sent: "PASS x\r\nQUIT\r\n", Got: "221 bye\r\n"}}}}
	c, err := net.Dial("tcp", ServeTranscript(t, tr, Options{Exact: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("PASS x\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := c.Write([]byte("QUIT\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if line != "221 bye\r\n" {
		t.Errorf("read %q (%v)", line, err)
	}
}
