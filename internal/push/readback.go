package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// ErrReadUnavailable means the read-back could not answer (the read API or the
// user list failed, or the employee has no login id there).
var ErrReadUnavailable = errors.New("daou read-back unavailable")

// loginID maps an employee number to a Daou loginId through the v3 user list
// (the attnd-v2 read API is keyed by loginId, §6). The list is cached and
// refetched at most once a minute on a miss.
func (c *Client) loginID(ctx context.Context, emp string) (string, error) {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	if l, ok := c.logins[emp]; ok {
		return l, nil
	}
	if c.logins != nil && c.now().Sub(c.loginsAt) < time.Minute {
		return "", fmt.Errorf("%w: employee number not in the v3 user list", ErrReadUnavailable)
	}
	status, body, err := c.authed(ctx, func(ctx context.Context, tok string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.BaseURL+PathUserV3, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Accept", "application/json")
		}
		return req, err
	})
	if err != nil {
		return "", fmt.Errorf("%w: user list: %w", ErrReadUnavailable, err)
	}
	if ce := classify(status, body); ce != nil {
		return "", fmt.Errorf("%w: user list: %w", ErrReadUnavailable, ce)
	}
	var env envelope
	_ = json.Unmarshal(body, &env)
	var rows []struct {
		LoginID        string     `json:"loginId"`
		EmployeeNumber flexString `json:"employeeNumber"`
	}
	// ASSUMPTION: data is the array of users (as integrators read it, §8.2).
	if err := json.Unmarshal(env.Data, &rows); err != nil {
		return "", fmt.Errorf("%w: user list: %w", ErrReadUnavailable, err)
	}
	c.logins = map[string]string{}
	c.loginsAt = c.now()
	for _, r := range rows {
		if r.LoginID != "" && r.EmployeeNumber != "" {
			c.logins[string(r.EmployeeNumber)] = r.LoginID
		}
	}
	if l, ok := c.logins[emp]; ok {
		return l, nil
	}
	return "", fmt.Errorf("%w: employee number not in the v3 user list", ErrReadUnavailable)
}

// ReadBack reports whether Daou's visible attendance (attnd-v2 read API)
// holds rec with the same clock-in and clock-out. It sees only synced data:
// found=false right after a send proves nothing until the next sync.
func (c *Client) ReadBack(ctx context.Context, rec attendance.DailyRecord) (found, same bool, err error) {
	login, err := c.loginID(ctx, rec.EmployeeNo)
	if err != nil {
		return false, false, err
	}
	for page := 0; page < 1000; page++ {
		q := url.Values{"startDate": {rec.WorkingDay}, "endDate": {rec.WorkingDay}, "page": {strconv.Itoa(page)}, "pageSize": {"50"}}
		status, body, err := c.authed(ctx, func(ctx context.Context, tok string) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.BaseURL+PathAttndV2+"?"+q.Encode(), nil)
			if err == nil {
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Accept", "application/json")
			}
			return req, err
		})
		if err != nil {
			return false, false, fmt.Errorf("%w: %w", ErrReadUnavailable, err)
		}
		if ce := classify(status, body); ce != nil {
			return false, false, fmt.Errorf("%w: %w", ErrReadUnavailable, ce)
		}
		var env envelope
		_ = json.Unmarshal(body, &env)
		// Both pagination shapes seen (§6): data.page.{totalPages} (ESD) and data.totalPages (AMS).
		var data struct {
			TotalPages int `json:"totalPages"`
			Page       struct {
				TotalPages int `json:"totalPages"`
			} `json:"page"`
			Elements []struct {
				LoginID       string  `json:"loginId"`
				AccrualDate   string  `json:"accrualDate"`
				StartWorkTime *string `json:"startWorkTime"`
				EndWorkTime   *string `json:"endWorkTime"`
			} `json:"elements"`
		}
		if err := json.Unmarshal(env.Data, &data); err != nil {
			return false, false, fmt.Errorf("%w: decode: %w", ErrReadUnavailable, err)
		}
		for _, el := range data.Elements {
			if el.LoginID == login && el.AccrualDate == rec.WorkingDay {
				return true, c.sameTime(el.StartWorkTime, rec.ClockIn) && c.sameTime(el.EndWorkTime, rec.ClockOut), nil
			}
		}
		pages := max(data.TotalPages, data.Page.TotalPages)
		if page+1 >= pages {
			return false, false, nil
		}
	}
	return false, false, nil
}

// sameTime compares a read-back time with ours. Both formats seen (§6) are
// accepted: "YYYY-MM-DD HH:MM:SS" compares the instant, "HH:MM:SS" only the
// local time of day.
func (c *Client) sameTime(got *string, want *time.Time) bool {
	g := ""
	if got != nil {
		g = strings.TrimSpace(*got)
	}
	if g == "" || want == nil {
		return g == "" && want == nil
	}
	w := want.In(c.loc)
	for _, layout := range []string{"2006-01-02 15:04:05", time.RFC3339, "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, g, c.loc); err == nil {
			return t.Equal(w.Truncate(time.Second))
		}
	}
	if t, err := time.Parse("15:04:05", g); err == nil {
		return t.Format("15:04:05") == w.Format("15:04:05")
	}
	return false
}
