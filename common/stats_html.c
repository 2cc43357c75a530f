/*
 * stats_html.c -- a stats_query() result as one self-contained HTML page:
 * inline CSS, inline SVG charts (coverage by unit, the suggestion funnel,
 * supervision by type, stale units), the tables of the text report, and no
 * external resource of any kind, so it can be mailed or opened offline.
 */
#include "common/stats_int.h"

#include <errno.h>

#include "common/stats_render.h"

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *str(const json_t *o, const char *path)
{
    const char *s = json_string_value(stats_at(o, path));
    return s ? s : "";
}

static double num(const json_t *o, const char *path)
{
    const json_t *v = stats_at(o, path);
    return v ? json_number_value(v) : 0.0;
}

static const char *const sup_names[STATS_NSUP] = {
    "视察", "执法检查", "专题询问", "质询", "工作评议", "特定问题调查", "票决", "审议报告",
    "预算审查",
};

/* Horizontal bars: one row per group, up to two series of ratios (0..1). */
static void chart_coverage(FILE *f, const json_t *r)
{
    const json_t *groups = json_object_get(r, "groups");
    size_t n = json_array_size(groups), i;
    const json_t *g;
    int rowh = 34, left = 160, width = 720, barw = width - left - 60;
    fprintf(f, "<h2>Coverage by unit 履职覆盖</h2>\n<svg class=\"chart\" id=\"chart-coverage\" "
               "xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%zu\" "
               "role=\"img\" aria-label=\"duty-report and training coverage by unit\">\n",
            width, n * (size_t)rowh + 40);
    fprintf(f, "<rect x=\"%d\" y=\"4\" width=\"12\" height=\"10\" fill=\"#2b6cb0\"/>"
               "<text x=\"%d\" y=\"13\">述职 duty report</text>"
               "<rect x=\"%d\" y=\"4\" width=\"12\" height=\"10\" fill=\"#dd6b20\"/>"
               "<text x=\"%d\" y=\"13\">培训 trained ≥2</text>\n",
            left, left + 16, left + 200, left + 216);
    json_array_foreach(groups, i, g) {
        int y = 24 + (int)i * rowh;
        double a = num(g, "activity.duty_report_coverage"), b = num(g, "activity.training_coverage");
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6, y + 20);
        esc(f, str(g, "name"));
        fprintf(f, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"13\" fill=\"#2b6cb0\"/>"
                   "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">%.1f%%</text>\n",
                left, y + 4, a * barw, left + a * barw + 4, y + 15, a * 100);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"13\" fill=\"#dd6b20\"/>"
                   "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">%.1f%%</text>\n",
                left, y + 18, b * barw, left + b * barw + 4, y + 29, b * 100);
    }
    fputs("</svg>\n", f);
}

static void chart_funnel(FILE *f, const json_t *t)
{
    const char *label[] = {"提出 submitted", "交办 assigned", "答复 answered", "测评 rated",
                           "满意 satisfied*"};
    double v[5] = {num(t, "suggestions.submitted"), num(t, "suggestions.assigned"),
                   num(t, "suggestions.answered"), num(t, "suggestions.rated"),
                   num(t, "suggestions.satisfied") + num(t, "suggestions.basically_satisfied")};
    double max = 1;
    for (int i = 0; i < 5; i++)
        max = v[i] > max ? v[i] : max;
    fputs("<h2>Suggestion funnel 建议办理</h2>\n<svg class=\"chart\" id=\"chart-funnel\" "
          "xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"200\" role=\"img\" "
          "aria-label=\"suggestion funnel\">\n", f);
    for (int i = 0; i < 5; i++) {
        double w = v[i] / max * 500;
        int y = 8 + i * 38;
        fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"28\" fill=\"#38a169\"/>"
                   "<text x=\"150\" y=\"%d\" text-anchor=\"end\">%s</text>"
                   "<text x=\"%.1f\" y=\"%d\">%.0f</text>\n",
                160 + (500 - w) / 2, y, w, y + 19, label[i], 160 + (500 + w) / 2 + 6, y + 19,
                v[i]);
    }
    fputs("</svg>\n<p class=\"note\">* satisfied or basically satisfied (满意 + 基本满意)</p>\n", f);
}

static void chart_supervision(FILE *f, const json_t *t)
{
    double v[STATS_NSUP], max = 1;
    for (int i = 0; i < STATS_NSUP; i++) {
        char path[64];
        snprintf(path, sizeof path, "supervision.%s", stats_sup_kinds[i]);
        v[i] = num(t, path);
        max = v[i] > max ? v[i] : max;
    }
    fputs("<h2>Supervision by type 监督</h2>\n<svg class=\"chart\" id=\"chart-supervision\" "
          "xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"240\" role=\"img\" "
          "aria-label=\"supervision activities by type\">\n", f);
    for (int i = 0; i < STATS_NSUP; i++) {
        double h = v[i] / max * 170;
        int x = 20 + i * 76;
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"50\" height=\"%.1f\" fill=\"#805ad5\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>"
                   "<text x=\"%d\" y=\"225\" text-anchor=\"middle\" font-size=\"12\">%s</text>\n",
                x, 200 - h, h, x + 25, 195 - h, v[i], x + 25, sup_names[i]);
    }
    fputs("</svg>\n", f);
}

static void chart_stale(FILE *f, const json_t *r)
{
    const json_t *s = json_object_get(r, "sync"), *units = json_object_get(s, "units");
    size_t i, n = 0;
    const json_t *e;
    double max = 1, lim = num(s, "stale_days");
    json_array_foreach(units, i, e) {
        double d = json_is_integer(json_object_get(e, "days_since"))
                   ? num(e, "days_since") : lim * 2;
        max = d > max ? d : max;
    }
    fprintf(f, "<h2>Stale units 同步 (nothing heard for %.0f days or more)</h2>\n", lim);
    fprintf(f, "<svg class=\"chart\" id=\"chart-stale\" xmlns=\"http://www.w3.org/2000/svg\" "
               "width=\"720\" height=\"%zu\" role=\"img\" aria-label=\"days since last heard\">\n",
            json_array_size(units) * 20 + 10);
    json_array_foreach(units, i, e) {
        bool never = !json_is_integer(json_object_get(e, "days_since"));
        double d = never ? max : num(e, "days_since");
        bool stale = json_is_true(json_object_get(e, "stale"));
        int y = 4 + (int)n++ * 20;
        fprintf(f, "<text x=\"210\" y=\"%d\" text-anchor=\"end\" font-size=\"12\">", y + 13);
        esc(f, str(e, "name"));
        fprintf(f, "</text><rect x=\"216\" y=\"%d\" width=\"%.1f\" height=\"14\" fill=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">%s%s</text>\n",
                y + 2, d / max * 420 + 1, stale ? "#e53e3e" : "#a0aec0",
                216 + d / max * 420 + 6, y + 13, never ? "never heard" : "",
                stale && !never ? "stale" : "");
        if (!never)
            fprintf(f, "<title>%.0f days</title>\n", d);
    }
    fputs("</svg>\n", f);
}

static void table(FILE *f, const json_t *r, const stats_section_t *s)
{
    const json_t *groups = json_object_get(r, "groups");
    fprintf(f, "<h2>%s</h2>\n<table id=\"table-%s\"><tr>", s->title, s->id);
    for (int c = 0; c < s->ncols; c++)
        fprintf(f, "<th>%s</th>", s->cols[c].head);
    fputs("</tr>\n", f);
    size_t n = json_array_size(groups);
    for (size_t i = 0; i <= n; i++) {
        const json_t *g = i < n ? json_array_get(groups, i) : json_object_get(r, "total");
        fputs(i < n ? "<tr>" : "<tr class=\"total\">", f);
        for (int c = 0; c < s->ncols; c++) {
            char v[64];
            if (c == 0 && i == n)
                snprintf(v, sizeof v, "合计 Total");
            else
                stats_fmt(v, sizeof v, stats_at(g, s->cols[c].path), s->cols[c].fmt);
            fputs(c ? "<td class=\"n\">" : "<td>", f);
            esc(f, v);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void reviews(FILE *f, const json_t *r)
{
    const json_t *rv = json_object_get(r, "work_reviews");
    size_t i;
    const json_t *e;
    fputs("<h2>Work reviews 工作评议 (lowest average score first)</h2>\n<table id=\"table-reviews\">"
          "<tr><th>Rank</th><th>Reviewer</th><th>Reviewed unit</th><th>Reviews</th>"
          "<th>Average score</th></tr>\n", f);
    json_array_foreach(rv, i, e) {
        char avg[32];
        stats_fmt(avg, sizeof avg, json_object_get(e, "average_score"), FMT_NUM);
        fprintf(f, "<tr><td class=\"n\">%zu</td><td>", i + 1);
        esc(f, str(e, "reviewer_name"));
        fputs("</td><td>", f);
        esc(f, str(e, "target"));
        fprintf(f, "</td><td class=\"n\">%.0f</td><td class=\"n\">%s</td></tr>\n",
                num(e, "reviews"), avg);
    }
    fputs("</table>\n", f);
}

static void key_figures(FILE *f, const json_t *t)
{
    static const struct { const char *id, *label, *path; int fmt; } k[] = {
        {"kf-deputies", "Deputies in office 在任代表", "deputies.in_office", FMT_NUM},
        {"kf-duty-coverage", "Duty-report coverage 述职覆盖率", "activity.duty_report_coverage",
         FMT_PCT},
        {"kf-training-coverage", "Trained at least twice 培训两次以上",
         "activity.training_coverage", FMT_PCT},
        {"kf-suggestions", "Suggestions submitted 建议", "suggestions.submitted", FMT_NUM},
        {"kf-answer-rate", "Answer rate 答复率", "suggestions.answer_rate", FMT_PCT},
        {"kf-satisfaction", "Satisfaction 满意率", "suggestions.satisfaction_rate", FMT_PCT},
        {"kf-supervision", "Supervision activities 监督活动", "supervision.total", FMT_NUM},
    };
    fputs("<div class=\"kf\">\n", f);
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        char v[64];
        stats_fmt(v, sizeof v, stats_at(t, k[i].path), k[i].fmt);
        fprintf(f, "<div class=\"card\"><div class=\"v\" id=\"%s\">%s</div><div>%s</div></div>\n",
                k[i].id, v, k[i].label);
    }
    fputs("</div>\n", f);
}

int stats_render_html(FILE *f, const json_t *r)
{
    const json_t *t = json_object_get(r, "total");
    fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\n<title>", f);
    esc(f, str(r, "name"));
    fputs(" 人大工作统计</title>\n<style>\n"
          "body{font-family:\"Noto Sans CJK SC\",\"Microsoft YaHei\",sans-serif;margin:24px;"
          "color:#1a202c}\nh1{font-size:22px}h2{font-size:17px;margin-top:28px}\n"
          "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #cbd5e0;"
          "padding:3px 8px}th{background:#edf2f7}td.n{text-align:right}"
          "tr.total td{font-weight:bold;background:#f7fafc}\n"
          ".kf{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #cbd5e0;"
          "border-radius:6px;padding:10px 14px;min-width:150px}.card .v{font-size:24px;"
          "font-weight:bold}\nsvg text{font-size:13px;fill:#1a202c}.note{font-size:12px;"
          "color:#4a5568}\n</style></head><body>\n<h1>", f);
    esc(f, str(r, "name"));
    fputs(" 人大工作统计 — statistics</h1>\n<p>Unit <code>", f);
    esc(f, str(r, "unit"));
    fputs("</code>, period <b id=\"period\">", f);
    esc(f, str(r, "period.label"));
    fputs("</b>", f);
    if (stats_at(r, "period.from"))
        fprintf(f, " (%s..%s)", str(r, "period.from"), str(r, "period.to"));
    fputs(", by ", f);
    esc(f, str(r, "by"));
    fputs(". Every figure is defined in docs/statistics.md.</p>\n", f);
    key_figures(f, t);
    chart_coverage(f, r);
    chart_funnel(f, t);
    chart_supervision(f, t);
    chart_stale(f, r);
    for (int i = 0; i < stats_nsections; i++)
        table(f, r, &stats_sections[i]);
    reviews(f, r);
    fputs("</body></html>\n", f);
    return fflush(f) || ferror(f) ? -EIO : 0;
}
