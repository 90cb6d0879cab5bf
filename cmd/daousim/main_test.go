package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunServesRoster(t *testing.T) {
	dir := t.TempDir()
	roster := filepath.Join(dir, "roster.csv")
	if err := os.WriteFile(roster, []byte("\ufeffemployee_no,login_id,name,card_numbers,aliases\nE1,kim,김철수,1234;5678,A1\n,,,,\nE2,lee,이영희,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emps, err := readRoster(roster)
	if err != nil || len(emps) != 2 || emps[0].EmployeeNumber != "E1" || emps[1].LoginID != "lee" {
		t.Fatalf("roster: %+v %v", emps, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--roster", roster, "--client-id", "X", "--client-secret", "Y"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://127.0.0.1:") {
		t.Fatalf("first line %q: %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	req, _ := http.NewRequest(http.MethodPost, strings.TrimSpace(line)+"/public/v1/account", strings.NewReader(`{"clientId":"X","clientSecret":"Y"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"employeeNumber":"E2"`) {
		t.Fatalf("account list: %d %s", resp.StatusCode, b)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop on cancel")
	}
	if code := run(context.Background(), []string{"--roster", roster}, io.Discard, io.Discard); code != 2 {
		t.Fatalf("missing credentials: exit %d", code)
	}
	if _, err := readRoster(filepath.Join(dir, "none.csv")); err == nil {
		t.Fatal("missing roster accepted")
	}
}
