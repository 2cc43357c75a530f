/*
 * stats_render.c -- a stats_query() result for people (aligned tables, with
 * CJK characters two columns wide), for spreadsheets (CSV that Excel on a
 * Chinese Windows PC opens as UTF-8: a byte-order mark and CRLF lines) and
 * for machines (JSON). The HTML report is in stats_html.c.
 */
#include "common/stats_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <wchar.h>

#include "common/stats_render.h"
#include "proto/event.h"

/* ---- reading the result ---- */

const json_t *stats_at(const json_t *o, const char *path)
{
    char part[64];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        snprintf(part, sizeof part, "%.*s", (int)n, path);
        o = json_object_get(o, part);
        path += n + (dot ? 1 : 0);
    }
    return o;
}

void stats_fmt(char *out, size_t n, const json_t *v, int how)
{
    if (!v || json_is_null(v)) {
        snprintf(out, n, "-");
    } else if (how == FMT_PCT) {
        snprintf(out, n, "%.1f%%", json_number_value(v) * 100.0);
    } else if (json_is_integer(v)) {
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        snprintf(out, n, d == floor(d) ? "%.0f" : how == FMT_NUM2 ? "%.2f" : "%.1f", d);
    } else if (json_is_string(v)) {
        snprintf(out, n, "%s", json_string_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(out, n, "%s", json_is_true(v) ? "yes" : "no");
    } else {
        snprintf(out, n, "?");
    }
}

/* ---- tables ---- */

int stats_width(const char *s)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    int cols = 0;
    size_t len = strlen(s);
    for (const char *p = s; *p;) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, p, len - (size_t)(p - s), &st);
        if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
            cols += (int)strlen(p);   /* not UTF-8 in this locale: count bytes */
            break;
        }
        int w = wcwidth(wc);
        cols += w > 0 ? w : 0;
        p += n;
    }
    return cols;
}

static void cell(FILE *f, const char *s, int width, bool right)
{
    int pad = width - stats_width(s);
    if (pad < 0)
        pad = 0;
    if (right)
        fprintf(f, "%*s%s", pad, "", s);
    else
        fprintf(f, "%s%*s", s, pad, "");
}

#define MAX_COLS 16
#define CELL 48

/* Prints one table: a title, a header row, then one row per group and the
 * total. cols[0] is the unit name; the rest are paths into a group. */
static void table(FILE *f, const json_t *r, const char *title, const stats_col_t *cols, int nc)
{
    const json_t *groups = json_object_get(r, "groups");
    size_t nrows = json_array_size(groups) + 1;
    char (*cells)[MAX_COLS][CELL] = calloc(nrows, sizeof *cells);
    if (!cells)
        return;
    int w[MAX_COLS];
    for (int c = 0; c < nc; c++)
        w[c] = stats_width(cols[c].head);
    for (size_t i = 0; i < nrows; i++) {
        const json_t *g = i + 1 < nrows ? json_array_get(groups, i) : json_object_get(r, "total");
        for (int c = 0; c < nc; c++) {
            if (c == 0 && i + 1 == nrows)
                snprintf(cells[i][c], CELL, "合计 Total");
            else
                stats_fmt(cells[i][c], CELL, stats_at(g, cols[c].path), cols[c].fmt);
            int cw = stats_width(cells[i][c]);
            if (cw > w[c])
                w[c] = cw;
        }
    }
    fprintf(f, "\n%s\n", title);
    for (int c = 0; c < nc; c++) {
        cell(f, cols[c].head, w[c], c > 0);
        fputs(c + 1 < nc ? "  " : "\n", f);
    }
    for (size_t i = 0; i < nrows; i++)
        for (int c = 0; c < nc; c++) {
            cell(f, cells[i][c], w[c], c > 0);
            fputs(c + 1 < nc ? "  " : "\n", f);
        }
    free(cells);
}

const stats_section_t stats_sections[] = {
    {"deputies", "Deputies 代表结构 (in office at the end of the period)", 12, {
        {"单位 Unit", "name", FMT_TEXT}, {"In office", "deputies.in_office", FMT_NUM},
        {"Township", "deputies.by_level.township", FMT_NUM},
        {"District", "deputies.by_level.district", FMT_NUM},
        {"Worker", "deputies.category_share.worker", FMT_PCT},
        {"Farmer", "deputies.category_share.farmer", FMT_PCT},
        {"Intellect.", "deputies.category_share.intellectual", FMT_PCT},
        {"Cadre", "deputies.category_share.cadre", FMT_PCT},
        {"Business", "deputies.category_share.business", FMT_PCT},
        {"Law/fin.", "deputies.law_or_finance_share", FMT_PCT},
        {"Left", "deputies.left", FMT_NUM}, {"Persuaded", "deputies.persuaded", FMT_NUM}}},
    {"activity", "Deputy activity 代表履职", 9, {
        {"单位 Unit", "name", FMT_TEXT}, {"In office", "deputies.in_office", FMT_NUM},
        {"Reported", "activity.reported", FMT_NUM},
        {"述职 coverage", "activity.duty_report_coverage", FMT_PCT},
        {"Trained>=2", "activity.trained_twice", FMT_NUM},
        {"培训 coverage", "activity.training_coverage", FMT_PCT},
        {"Contacts", "activity.contacts", FMT_NUM},
        {"Per deputy", "activity.contacts_per_deputy", FMT_NUM2},
        {"Attendance", "activity.attendance.rate", FMT_PCT}}},
    {"suggestions", "Suggestions 代表建议", 10, {
        {"单位 Unit", "name", FMT_TEXT}, {"Submitted", "suggestions.submitted", FMT_NUM},
        {"Assigned", "suggestions.assigned", FMT_NUM},
        {"Answered", "suggestions.answered", FMT_NUM},
        {"Answer rate", "suggestions.answer_rate", FMT_PCT},
        {"Rated", "suggestions.rated", FMT_NUM},
        {"Satisfied", "suggestions.satisfaction_rate", FMT_PCT},
        {"Closed", "suggestions.closed", FMT_NUM},
        {"Carried over", "suggestions.carried_over", FMT_NUM},
        {"Median days", "suggestions.median_days_to_answer", FMT_NUM}}},
    {"supervision", "Supervision 监督", 11, {
        {"单位 Unit", "name", FMT_TEXT}, {"视察", "supervision.visit", FMT_NUM},
        {"执法检查", "supervision.law_check", FMT_NUM},
        {"专题询问", "supervision.inquiry", FMT_NUM},
        {"质询", "supervision.interpellation", FMT_NUM},
        {"工作评议", "supervision.work_review", FMT_NUM},
        {"特定问题调查", "supervision.investigation", FMT_NUM},
        {"票决", "supervision.decision_vote", FMT_NUM},
        {"审议报告", "supervision.report_review", FMT_NUM},
        {"预算审查", "supervision.budget_review", FMT_NUM},
        {"Total", "supervision.total", FMT_NUM}}},
    {"linkage", "Linkage 上下联动 (joint inspections opened in the period)", 9, {
        {"单位 Unit", "name", FMT_TEXT}, {"Opened", "linkage.opened", FMT_NUM},
        {"In scope", "linkage.in_scope", FMT_NUM},
        {"On time", "linkage.reported_on_time", FMT_NUM},
        {"Late", "linkage.reported_late", FMT_NUM},
        {"Overdue", "linkage.overdue", FMT_NUM},
        {"Findings", "linkage.findings", FMT_NUM},
        {"Rectified", "linkage.rectified", FMT_NUM},
        {"Rect. rate", "linkage.rectification_rate", FMT_PCT}}},
};
const int stats_nsections = sizeof stats_sections / sizeof stats_sections[0];

static void reviews_table(FILE *f, const json_t *r)
{
    const json_t *rv = json_object_get(r, "work_reviews");
    if (!json_array_size(rv))
        return;
    int wr = stats_width("Reviewer"), wt = stats_width("Reviewed unit");
    size_t i, n = json_array_size(rv) < 10 ? json_array_size(rv) : 10;
    for (i = 0; i < n; i++) {
        const json_t *e = json_array_get(rv, i);
        int a = stats_width(json_string_value(json_object_get(e, "reviewer_name")));
        int b = stats_width(json_string_value(json_object_get(e, "target")));
        wr = a > wr ? a : wr;
        wt = b > wt ? b : wt;
    }
    fprintf(f, "\nWork reviews 工作评议 (lowest average score first)\n");
    fprintf(f, "Rank  ");
    cell(f, "Reviewer", wr, false);
    fputs("  ", f);
    cell(f, "Reviewed unit", wt, false);
    fprintf(f, "  Reviews  Average\n");
    for (i = 0; i < n; i++) {
        const json_t *e = json_array_get(rv, i);
        char avg[CELL];
        stats_fmt(avg, sizeof avg, json_object_get(e, "average_score"), FMT_NUM);
        fprintf(f, "%4lld  ", (long long)json_integer_value(json_object_get(e, "rank")));
        cell(f, json_string_value(json_object_get(e, "reviewer_name")), wr, false);
        fputs("  ", f);
        cell(f, json_string_value(json_object_get(e, "target")), wt, false);
        fprintf(f, "  %7lld  %7s\n",
                (long long)json_integer_value(json_object_get(e, "reviews")), avg);
    }
}

static void sync_row(FILE *f, const json_t *e, int wn)
{
    char days[CELL];
    stats_fmt(days, sizeof days, json_object_get(e, "days_since"), FMT_NUM);
    const char *lh = json_string_value(json_object_get(e, "last_heard"));
    cell(f, json_string_value(json_object_get(e, "name")), wn, false);
    fprintf(f, "  %-26s %8lld %8lld  %-20s %5s%s\n", json_string_value(json_object_get(e, "unit")),
            (long long)json_integer_value(json_object_get(e, "events")),
            (long long)json_integer_value(json_object_get(e, "pending")), lh ? lh : "never", days,
            json_is_true(json_object_get(e, "stale")) ? "  STALE" : "");
}

static int name_width(const json_t *list, const char *head)
{
    size_t i;
    const json_t *e;
    int w = stats_width(head);
    json_array_foreach(list, i, e) {
        int a = stats_width(json_string_value(json_object_get(e, "name")));
        w = a > w ? a : w;
    }
    return w;
}

/* By child: one line per child's subtree (units, stale, events, pending). */
static void sync_summary(FILE *f, const json_t *r, const json_t *units)
{
    const json_t *groups = json_object_get(r, "groups"), *g, *e;
    size_t i, j;
    int wn = name_width(groups, "单位 Unit");
    cell(f, "单位 Unit", wn, false);
    fprintf(f, "  %6s %6s %10s %8s\n", "Units", "Stale", "Events", "Pending");
    json_array_foreach(groups, i, g) {
        const char *k = json_string_value(json_object_get(g, "unit"));
        long long n = 0, stale = 0, ev = 0, pend = 0;
        json_array_foreach(units, j, e) {
            const char *u = json_string_value(json_object_get(e, "unit"));
            if (!proto_origin_within(u, strlen(u), k, strlen(k)) ||
                (strcmp(u, k) != 0 && strcmp(k, json_string_value(json_object_get(r, "unit"))) == 0))
                continue;
            n++;
            stale += json_is_true(json_object_get(e, "stale"));
            ev += json_integer_value(json_object_get(e, "events"));
            pend += json_integer_value(json_object_get(e, "pending"));
        }
        cell(f, json_string_value(json_object_get(g, "name")), wn, false);
        fprintf(f, "  %6lld %6lld %10lld %8lld\n", n, stale, ev, pend);
    }
    const json_t *stale = json_object_get(json_object_get(r, "sync"), "stale");
    if (!json_array_size(stale))
        return;
    fprintf(f, "\nStale units 久未同步 (%zu)\n", json_array_size(stale));
    wn = name_width(units, "单位 Unit");
    json_array_foreach(units, i, e)
        if (json_is_true(json_object_get(e, "stale")))
            sync_row(f, e, wn);
}

static void sync_table(FILE *f, const json_t *r)
{
    const json_t *s = json_object_get(r, "sync"), *units = json_object_get(s, "units");
    size_t i;
    const json_t *e;
    fprintf(f, "\nSync health 同步 (stale: nothing heard for %lld days; now %s)\n",
            (long long)json_integer_value(json_object_get(s, "stale_days")),
            json_string_value(json_object_get(s, "now")));
    if (strcmp(json_string_value(json_object_get(r, "by")), "child") == 0 &&
        json_array_size(units) > json_array_size(json_object_get(r, "groups"))) {
        sync_summary(f, r, units);
        return;
    }
    int wn = name_width(units, "单位 Unit");
    cell(f, "单位 Unit", wn, false);
    fprintf(f, "  %-26s %8s %8s  %-20s %5s\n", "Origin", "Events", "Pending", "Last heard", "Days");
    json_array_foreach(units, i, e)
        sync_row(f, e, wn);
}

int stats_render_table(FILE *f, const json_t *r)
{
    const json_t *p = json_object_get(r, "period");
    fprintf(f, "%s (%s) statistics, period %s", json_string_value(json_object_get(r, "name")),
            json_string_value(json_object_get(r, "unit")),
            json_string_value(json_object_get(p, "label")));
    if (json_object_get(p, "from"))
        fprintf(f, " (%s..%s)", json_string_value(json_object_get(p, "from")),
                json_string_value(json_object_get(p, "to")));
    fprintf(f, ", by %s\n", json_string_value(json_object_get(r, "by")));
    for (int i = 0; i < stats_nsections; i++)
        table(f, r, stats_sections[i].title, stats_sections[i].cols, stats_sections[i].ncols);
    reviews_table(f, r);
    sync_table(f, r);
    return fflush(f) || ferror(f) ? -EIO : 0;
}

/* ---- CSV ---- */

static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Flattens a group into (path, value) pairs in a fixed order. */
static void flatten(const json_t *o, const char *prefix, json_t *out)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k);
        if (json_is_object(v))
            flatten(v, path, out);
        else
            json_array_append_new(out, json_pack("[s, O]", path, v));
    }
}

int stats_render_csv(FILE *f, const json_t *r)
{
    const json_t *groups = json_object_get(r, "groups");
    fputs("\xEF\xBB\xBF", f);
    json_t *rows = json_array();
    size_t i;
    const json_t *g;
    json_array_foreach(groups, i, g) {
        json_t *flat = json_array();
        flatten(g, "", flat);
        json_array_append_new(rows, flat);
    }
    json_t *flat = json_array();
    flatten(json_object_get(r, "total"), "", flat);
    json_array_append_new(rows, flat);
    const json_t *head = json_array_get(rows, 0);
    fputs("row", f);
    for (size_t c = 0; c < json_array_size(head); c++) {
        fputc(',', f);
        csv_field(f, json_string_value(json_array_get(json_array_get(head, c), 0)));
    }
    fputs("\r\n", f);
    json_array_foreach(rows, i, g) {
        fputs(i + 1 == json_array_size(rows) ? "total" : "group", f);
        for (size_t c = 0; c < json_array_size(g); c++) {
            char v[CELL];
            const json_t *x = json_array_get(json_array_get(g, c), 1);
            if (json_is_null(x))
                v[0] = 0;
            else if (json_is_real(x))
                snprintf(v, sizeof v, "%.4f", json_real_value(x));
            else
                stats_fmt(v, sizeof v, x, FMT_NUM);
            fputc(',', f);
            csv_field(f, v);
        }
        fputs("\r\n", f);
    }
    json_decref(rows);
    return fflush(f) || ferror(f) ? -EIO : 0;
}

int stats_render_json(FILE *f, const json_t *r)
{
    int rc = json_dumpf(r, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', f);
    return rc || fflush(f) || ferror(f) ? -EIO : 0;
}
