package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// runHashPassword reads a password from stdin (the first line) and prints its bcrypt hash for
// analytics.accounts[].passwordHash. Reading stdin rather than a flag keeps the password out of
// the shell history and the process list:
//
//	read -rs PW && printf '%s' "$PW" | valuerx hash-password
func runHashPassword(_ context.Context, args []string, stdout, stderr io.Writer) int {
	return hashPassword(args, os.Stdin, stdout, stderr)
}

func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	fl.SetOutput(stderr)
	cost := fl.Int("cost", 12, "bcrypt cost (each step doubles the work of a check and of a guess)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintln(stderr, "valuerx hash-password:", err)
		return 1
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 12 {
		fmt.Fprintln(stderr, "valuerx hash-password: give a password of at least 12 characters on stdin")
		return 2
	}
	if len(pw) > 72 {
		fmt.Fprintln(stderr, "valuerx hash-password: bcrypt uses at most 72 bytes of a password; give a shorter one")
		return 2
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), *cost)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx hash-password:", err)
		return 2
	}
	fmt.Fprintln(stdout, string(h))
	return 0
}
