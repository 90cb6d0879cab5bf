package report

// All the SQL of the reports, the same on a single node and on a cluster (the
// cluster's Distributed tables carry the single-node names). {db} is the
// database; @from, @to (YYYY-MM-DD, inclusive), @site and @employee ('' = all)
// @late_secs and @late_until_secs (seconds after local midnight), @day_start_secs
// and @max_shift_secs are bound by clickhouse-go.
//
// Times are DateTime('Asia/Seoul'), so toDate, toHour and formatDateTime give
// Seoul calendar days and clock times.

// daysCTE is one row per person and working day: the pusher's current derived
// record from daily_attendance where there is one, else a fallback derived
// from the punches (people the pusher never saw: unmatched, history-only
// sites) with the derive package's default shift rules: successful 'in' and
// 'out' only; an 'in' belongs to its calendar date; an 'out' to the latest
// 'in' at most @max_shift_secs before it, else to the date of (time -
// @day_start_secs); clock_in is the day's first 'in', clock_out its last
// 'out' after clock_in and within max shift. A day whose clock_out falls on
// the next date is flagged night_shift, as derive does.
const daysCTE = `
WITH
daily AS (
    SELECT site, employee_no, working_day, clock_in, clock_out,
           CAST(flags, 'Array(String)') AS flags, 'daily' AS source
    FROM {db}.daily_attendance FINAL
    WHERE working_day BETWEEN toDate(@from) AND toDate(@to)
      AND (@site = '' OR site = @site)
      AND (@employee = '' OR employee_no = @employee)
),
taps AS (
    SELECT site, employee_no, occurred_at AS at, mode
    FROM {db}.punches FINAL
    WHERE toDate(occurred_at) BETWEEN toDate(@from) - 1 AND toDate(@to) + 1
      AND auth_ok AND mode IN ('in', 'out')
      AND (@site = '' OR site = @site)
      AND (@employee = '' OR employee_no = @employee)
      AND employee_no != ''
),
ins AS (SELECT site, employee_no, at FROM taps WHERE mode = 'in'),
outs AS (
    SELECT o.site AS site, o.employee_no AS employee_no, o.at AS at,
           if(dateDiff('second', i.at, o.at) <= @max_shift_secs, toDate(i.at), toDate(o.at - @day_start_secs)) AS working_day
    FROM (SELECT site, employee_no, at FROM taps WHERE mode = 'out') AS o
    ASOF LEFT JOIN ins AS i ON o.site = i.site AND o.employee_no = i.employee_no AND o.at > i.at
),
per_day AS (
    SELECT site, employee_no, working_day,
           minIfOrNull(at, mode = 'in') AS clock_in,
           groupArrayIf(at, mode = 'out') AS out_times
    FROM (
        SELECT site, employee_no, toDate(at) AS working_day, at, 'in' AS mode FROM ins
        UNION ALL
        SELECT site, employee_no, working_day, at, 'out' AS mode FROM outs
    )
    WHERE working_day BETWEEN toDate(@from) AND toDate(@to)
    GROUP BY site, employee_no, working_day
),
fallback AS (
    SELECT site, employee_no, working_day, clock_in,
           arrayFilter(t -> clock_in IS NULL OR (t > clock_in AND dateDiff('second', assumeNotNull(clock_in), t) <= @max_shift_secs), out_times) AS valid_outs,
           if(empty(valid_outs), NULL, arrayMax(valid_outs)) AS clock_out,
           arrayFilter(f -> f != '', [
               if(clock_in IS NULL, 'missing_in', ''),
               if(clock_out IS NULL, 'missing_out', ''),
               if(clock_in IS NOT NULL AND clock_out IS NOT NULL AND toDate(clock_out) != working_day, 'night_shift', '')]) AS flags,
           'punches' AS source
    FROM per_day
),
days AS (
    SELECT site, employee_no, working_day, clock_in, clock_out, flags, source FROM daily
    UNION ALL
    SELECT site, employee_no, working_day, clock_in, clock_out, flags, source FROM fallback
    WHERE (site, employee_no, working_day) NOT IN (SELECT site, employee_no, working_day FROM daily)
)
`

// clock renders a clock time of the working day as HH:MM:SS, or with the date
// (MM-DD HH:MM:SS) when it falls on another calendar day (night shifts).
const clockIn = `if(clock_in IS NULL, NULL, if(toDate(clock_in) = working_day, formatDateTime(assumeNotNull(clock_in), '%H:%i:%S'), formatDateTime(assumeNotNull(clock_in), '%m-%d %H:%i:%S')))`
const clockOut = `if(clock_out IS NULL, NULL, if(toDate(clock_out) = working_day, formatDateTime(assumeNotNull(clock_out), '%H:%i:%S'), formatDateTime(assumeNotNull(clock_out), '%m-%d %H:%i:%S')))`

// workedSeconds is clock_out - clock_in when both exist and are ordered, else NULL.
// Gross time: breaks (휴게시간) are not deducted.
const workedSeconds = `if(clock_in IS NOT NULL AND clock_out IS NOT NULL AND clock_out > clock_in, dateDiff('second', assumeNotNull(clock_in), assumeNotNull(clock_out)), NULL)`

// secOfDayIn is the clock-in time as seconds after local midnight.
const secOfDayIn = `toInt64(toHour(assumeNotNull(clock_in))) * 3600 + toMinute(assumeNotNull(clock_in)) * 60 + toSecond(assumeNotNull(clock_in))`

var queries = map[string]string{
	"daily": daysCTE + `
SELECT site, employee_no, toString(working_day) AS day,
       ` + clockIn + ` AS first_in,
       ` + clockOut + ` AS last_out,
       round(` + workedSeconds + ` / 3600, 2) AS hours,
       arrayStringConcat(flags, ',') AS flags,
       source
FROM days
ORDER BY site, employee_no, working_day`,

	"late": daysCTE + `
SELECT site, employee_no, toString(working_day) AS day,
       formatDateTime(assumeNotNull(clock_in), '%H:%i:%S') AS first_in,
       intDiv(` + secOfDayIn + ` - @late_secs + 59, 60) AS minutes_late,
       source
FROM days
WHERE clock_in IS NOT NULL
  AND toDate(clock_in) = working_day
  AND NOT has(flags, 'night_shift')
  AND ` + secOfDayIn + ` > @late_secs
  AND ` + secOfDayIn + ` < @late_until_secs
ORDER BY site, employee_no, working_day`,

	"missing": daysCTE + `
SELECT site, employee_no, toString(working_day) AS day,
       ` + clockIn + ` AS first_in,
       ` + clockOut + ` AS last_out,
       arrayStringConcat(arrayFilter(f -> f IN ('missing_in', 'missing_out'), flags), ',') AS missing,
       source
FROM days
WHERE has(flags, 'missing_in') OR has(flags, 'missing_out')
ORDER BY site, employee_no, working_day`,

	// ISO weeks, Monday first; the caller widens from/to to whole weeks.
	"weekly-hours": daysCTE + `
SELECT site, employee_no,
       concat(toString(toISOYear(working_day)), '-W', leftPad(toString(toISOWeek(working_day)), 2, '0')) AS iso_week,
       toString(toMonday(working_day)) AS week_start,
       count() AS days,
       countIf(` + workedSeconds + ` IS NULL) AS incomplete_days,
       round(sum(ifNull(` + workedSeconds + `, 0)) / 3600, 2) AS hours,
       hours > 52 AS over_52h
FROM days
GROUP BY site, employee_no, iso_week, week_start
ORDER BY site, employee_no, week_start`,

	"gates": `
SELECT site, device, toHour(occurred_at) AS hour,
       count() AS punches,
       countIf(mode = 'in') AS ins,
       countIf(mode = 'out') AS outs,
       countIf(mode NOT IN ('in', 'out')) AS other,
       countIf(NOT auth_ok) AS failed_auth
FROM {db}.punches FINAL
WHERE toDate(occurred_at) BETWEEN toDate(@from) AND toDate(@to)
  AND (@site = '' OR site = @site)
  AND (@employee = '' OR employee_no = @employee)
GROUP BY site, device, hour
ORDER BY site, device, hour`,

	"unmatched": `
SELECT site, employee_no, name, card_masked, outcome,
       count() AS events,
       formatDateTime(min(occurred_at), '%Y-%m-%d %H:%i:%S') AS first_seen,
       formatDateTime(max(occurred_at), '%Y-%m-%d %H:%i:%S') AS last_seen,
       argMax(reason, (occurred_at, event_id)) AS last_reason
FROM {db}.unmatched FINAL
WHERE toDate(occurred_at) BETWEEN toDate(@from) AND toDate(@to)
  AND (@site = '' OR site = @site)
  AND (@employee = '' OR employee_no = @employee)
GROUP BY site, employee_no, name, card_masked, outcome
ORDER BY events DESC, site, employee_no, card_masked, outcome`,
}
