/*
 * stats_render.h -- what the table and HTML renderers of a statistics
 * result share (common/stats_render.c, common/stats_html.c): the sections
 * and their columns, and helpers to read and format figures.
 */
#ifndef LD_COMMON_STATS_RENDER_H
#define LD_COMMON_STATS_RENDER_H

#include <jansson.h>
#include <stddef.h>

enum { FMT_TEXT, FMT_NUM, FMT_NUM2, FMT_PCT };

typedef struct stats_col {
    const char *head;   /* column header (UTF-8; CJK allowed) */
    const char *path;   /* dotted path into a group, e.g. "activity.reported" */
    int fmt;            /* FMT_* */
} stats_col_t;

typedef struct stats_section {
    const char *id;
    const char *title;
    int ncols;
    stats_col_t cols[16];
} stats_section_t;

extern const stats_section_t stats_sections[];
extern const int stats_nsections;

/* The value at a dotted path ("suggestions.answer_rate"), or NULL. Borrowed. */
const json_t *stats_at(const json_t *o, const char *path);
/* Formats a figure: "-" for null/absent; FMT_PCT a ratio as "94.5%". */
void stats_fmt(char *out, size_t n, const json_t *v, int how);
/* Terminal columns of a UTF-8 string (CJK two each, wcwidth). */
int stats_width(const char *s);

#endif
