// A tiny client built on client-go's own remotecommand and portforward packages, so the
// integration tests check Bulkhead's streaming server against the real protocol code
// kubectl, crictl and critest use.
//
//	streaming-client exec [-ws] [-tty] [-stdin] [-stderr=false] URL
//	streaming-client portforward [-ws] URL LOCAL:REMOTE [LOCAL:REMOTE...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

type sizeQueue struct{ ch chan remotecommand.TerminalSize }

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q.ch
	if !ok {
		return nil
	}
	return &s
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: streaming-client exec|portforward ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "exec":
		os.Exit(runExec(os.Args[2:]))
	case "portforward":
		os.Exit(runPortForward(os.Args[2:]))
	}
	os.Exit(2)
}

func runExec(args []string) int {
	fs := flag.NewFlagSet("exec", flag.ExitOnError)
	ws := fs.Bool("ws", false, "use the WebSocket (v5) executor")
	tty := fs.Bool("tty", false, "tty")
	stdin := fs.Bool("stdin", false, "send stdin")
	stderr := fs.Bool("stderr", true, "receive stderr")
	resize := fs.String("resize", "", "WxH: send one resize at start (tty)")
	protocols := fs.String("protocols", "", "comma-separated protocol versions to offer (default: client-go's)")
	_ = fs.Parse(args)
	u, err := url.Parse(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := &rest.Config{Host: u.Host}
	var e remotecommand.Executor
	switch {
	case *ws && *protocols != "":
		e, err = remotecommand.NewWebSocketExecutorForProtocols(cfg, "GET", u.String(), strings.Split(*protocols, ",")...)
	case *ws:
		e, err = remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	case *protocols != "":
		transport, upgrader, e2 := spdy.RoundTripperFor(cfg)
		if e2 != nil {
			fmt.Fprintln(os.Stderr, e2)
			return 2
		}
		e, err = remotecommand.NewSPDYExecutorForProtocols(transport, upgrader, "POST", u, strings.Split(*protocols, ",")...)
	default:
		e, err = remotecommand.NewSPDYExecutor(cfg, "POST", u)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "executor:", err)
		return 2
	}
	opts := remotecommand.StreamOptions{Stdout: os.Stdout, Tty: *tty}
	if *stderr && !*tty {
		opts.Stderr = os.Stderr
	}
	if *stdin {
		opts.Stdin = os.Stdin
	}
	if *tty {
		q := &sizeQueue{ch: make(chan remotecommand.TerminalSize, 4)}
		var w, h uint16
		if *resize != "" {
			fmt.Sscanf(*resize, "%dx%d", &w, &h)
			q.ch <- remotecommand.TerminalSize{Width: w, Height: h}
		}
		opts.TerminalSizeQueue = q
	}
	err = e.StreamWithContext(context.Background(), opts)
	if err != nil {
		var ce exec.CodeExitError
		if errors.As(err, &ce) {
			fmt.Fprintf(os.Stderr, "EXIT:%d %s\n", ce.Code, err)
			return ce.Code
		}
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		return 125
	}
	return 0
}

func runPortForward(args []string) int {
	fs := flag.NewFlagSet("portforward", flag.ExitOnError)
	ws := fs.Bool("ws", false, "tunnel SPDY over WebSocket")
	_ = fs.Parse(args)
	u, err := url.Parse(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := &rest.Config{Host: u.Host}
	var dialer streamhttp.Dialer
	if *ws {
		dialer, err = portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
	} else {
		transport, upgrader, e2 := spdy.RoundTripperFor(cfg)
		if e2 != nil {
			fmt.Fprintln(os.Stderr, e2)
			return 2
		}
		dialer = spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, "POST", u)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dialer:", err)
		return 2
	}
	stop := make(chan struct{})
	ready := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; close(stop) }()
	pf, err := portforward.NewForStreaming(dialer, fs.Args()[1:], stop, ready, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "portforward:", err)
		return 2
	}
	if err := pf.ForwardPorts(); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		return 1
	}
	return 0
}
