/*
 * citygen.h -- a realistic generated city for the statistics tests, the
 * demo and the benchmark (header-only test code, included by
 * tests/tools/city.c and tests/unit/test_stats.c).
 *
 * The city is Harbin's shape (BRIEF, domain/harbin-units.tsv): the city, 9
 * districts and 9 counties, each with ~16 townships (streets in the urban
 * districts). Every unit registers itself; townships register township-level
 * deputies, districts and streets district-level ones, the city city-level
 * ones, with a plausible occupation structure (more farmers in the
 * counties) and some law/finance backgrounds. Then a year of activity of
 * every kind: contacts, duty reports (per-unit participation: 延寿县 94.5%),
 * trainings over the term, attendance, evaluations, suggestions through
 * their whole chain (some rated twice, some answered in the next year),
 * supervision of every type with work-review scores per reviewed office,
 * deputies leaving mid-term (some persuaded to resign), joint inspections
 * opened by the city and the districts with reports on time, late or
 * missing, findings and rectifications, and a few townships gone quiet.
 *
 * Each unit's events are recorded in date order with the occasional late
 * entry (so an answer can precede its submission in the chain), chained
 * (seq, prev hash, HLC) and encoded exactly as a node would, and handed to
 * the emit callback unit by unit: the city first, then each district
 * followed by its townships. Deterministic for a seed and clock.
 */
#ifndef LD_TESTS_CITYGEN_H
#define LD_TESTS_CITYGEN_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "proto/event.h"
#include "proto/json.h"

typedef int (*cg_emit_fn)(const uint8_t *raw, size_t len, void *arg);

typedef struct cg_opts {
    uint64_t seed;
    int year;               /* the year of activity (default 2025) */
    uint64_t now_ms;        /* HLC clock at the end of recording (default 2026-01-10) */
    double activity;        /* multiplies per-deputy activity (default 1) */
    int townships;          /* per district (default 16) */
    const char *only;       /* generate only this district's subtree and the city (NULL: all) */
    /* The root's log continues a chain already held (a hub made by init):
     * its next seq, prev hash and last HLC. root_seq 0: start at 1. */
    uint64_t root_seq;
    uint8_t root_prev[PROTO_HASH_LEN];
} cg_opts_t;

static const struct { const char *id, *name, *type; } cg_districts[18] = {
    {"daoli", "道里区", "district"}, {"daowai", "道外区", "district"},
    {"nangang", "南岗区", "district"}, {"xiangfang", "香坊区", "district"},
    {"pingfang", "平房区", "district"}, {"songbei", "松北区", "district"},
    {"hulan", "呼兰区", "district"}, {"acheng", "阿城区", "district"},
    {"shuangcheng", "双城区", "district"}, {"wuchang", "五常市", "county"},
    {"shangzhi", "尚志市", "county"}, {"bayan", "巴彦县", "county"}, {"binxian", "宾县", "county"},
    {"yilan", "依兰县", "county"}, {"yanshou", "延寿县", "county"}, {"mulan", "木兰县", "county"},
    {"tonghe", "通河县", "county"}, {"fangzheng", "方正县", "county"},
};
/* Named townships of the report, first in their district's list. */
static const struct { const char *district, *id, *name, *type; } cg_named[] = {
    {"shangzhi", "maoershan", "帽儿山镇", "township"}, {"yanshou", "jiaxin", "加信镇", "township"},
    {"songbei", "wanbao", "万宝镇", "township"}, {"daowai", "jingyu", "靖宇街道", "street"},
    {"yilan", "daotaiqiao", "道台桥镇", "township"},
};
static const char *const cg_town_names[] = {
    "东兴", "红旗", "永安", "太平", "新华", "长岭", "兴隆", "胜利", "福安", "民主", "向阳",
    "富强", "和平", "建设", "光明", "前进", "团结", "新立", "庆丰", "保安",
};
static const char *const cg_names[] = {
    "张桂兰", "刘振国", "王秀英", "李建华", "赵德明", "孙丽", "周志强", "吴凤芝", "郑海涛",
    "陈玉梅", "杨树林", "黄春燕", "高玉山", "马丽华", "徐长青", "朱桂芝",
};
static const char *const cg_topics[] = {
    "春耕备耕农资供应", "农村饮水安全工程", "中小学校舍维修与学位供给", "乡村道路硬化",
    "农村医疗卫生服务", "秸秆综合利用与禁烧", "城乡居民养老保险", "冬季供暖保障",
    "食品安全专项整治", "村级集体经济发展",
};
static const char *const cg_offices[] = {
    "教育局", "交通运输局", "卫生健康局", "水务局", "民政局", "住房和城乡建设局",
    "市场监督管理局", "农业农村局", "生态环境局", "人力资源和社会保障局",
};

typedef struct cg {
    const cg_opts_t *o;
    uint64_t rng;
    cg_emit_fn emit;
    void *arg;
    json_t *evs;        /* the current unit's events: [lag_day, kind, date, body] */
    struct cg_joint { char id[200]; char scope[8][64]; int nscope; char opener[64];
                      int open_day, due_day; } joints[64];
    int njoints;
    int nfind;
    json_t *found;      /* tag -> "ORIGIN#SEQ" of the findings encoded so far */
    uint64_t events;
} cg_t;

static uint64_t cg_rand(cg_t *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}
static int cg_pick(cg_t *g, int n) { return n > 0 ? (int)(cg_rand(g) % (uint64_t)n) : 0; }
static double cg_unif(cg_t *g) { return (double)(cg_rand(g) >> 11) / 9007199254740992.0; }
static bool cg_p(cg_t *g, double p) { return cg_unif(g) < p; }
/* A count with mean m (sum of two uniform halves; never negative). */
static int cg_count(cg_t *g, double m)
{
    double x = m * (0.5 + cg_unif(g));
    int n = (int)x;
    return n + (cg_unif(g) < x - n);
}

/* Day numbers here are days since 1970-01-01. */
static int cg_day(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}
static void cg_date(int day, char out[11])
{
    int z = day + 719468, era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int d = doy - (153 * mp + 2) / 5 + 1, m = mp + (mp < 10 ? 3 : -9), y = yoe + era * 400 + (m <= 2);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000, (unsigned)m % 13, (unsigned)d % 32);
}

/* Queues one event of the current unit, recorded `lag` days after its date. */
static void cg_ev(cg_t *g, int day, int lag, const char *kind, json_t *body)
{
    char d[11];
    cg_date(day, d);
    json_array_append_new(g->evs, json_pack("[i, s, s, o]", day + lag, kind, d, body));
}

static int cg_lag(cg_t *g) { return cg_p(g, 0.03) ? 20 + cg_pick(g, 40) : cg_pick(g, 4); }

static int cg_cmp(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_array_get(*(json_t *const *)a, 0));
    json_int_t y = json_integer_value(json_array_get(*(json_t *const *)b, 0));
    return x < y ? -1 : x > y;
}

/* Encodes and emits the unit's queue in recording order. */
static int cg_flush(cg_t *g, const char *origin, uint64_t seq, const uint8_t *prev,
                    uint64_t end_ms)
{
    size_t n = json_array_size(g->evs);
    json_t **v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(g->evs, i);
    /* Stable by recording day: equal days keep their generation order. */
    for (size_t i = 0; i < n; i++)
        json_array_set_new(v[i], 0, json_integer(json_integer_value(json_array_get(v[i], 0)) *
                                                 (json_int_t)4000000 + (json_int_t)i));
    qsort(v, n, sizeof *v, cg_cmp);
    uint8_t h[PROTO_HASH_LEN];
    memcpy(h, prev, PROTO_HASH_LEN);
    buf_t body = BUF_INIT, raw = BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        buf_reset(&body);
        buf_reset(&raw);
        json_t *b = json_array_get(v[i], 3);
        const char *ref = json_string_value(json_object_get(b, "finding"));
        if (ref && ref[0] == '@')
            json_object_set(b, "finding", json_object_get(g->found, ref));
        if (json_array_size(v[i]) == 5) {
            char id[256];
            snprintf(id, sizeof id, "%s#%llu", origin, (unsigned long long)(seq + i));
            json_object_set_new(g->found, json_string_value(json_array_get(v[i], 4)),
                                json_string(id));
        }
        if ((rc = proto_body_pack_json(b, &body)))
            break;
        proto_header_t hd = {origin, seq + i, ((end_ms - (n - i) * 1000) << 16), {0},
                             json_string_value(json_array_get(v[i], 1)),
                             json_string_value(json_array_get(v[i], 2)), NULL};
        memcpy(hd.prev, h, PROTO_HASH_LEN);
        if ((rc = proto_event_encode(&hd, body.data, body.len, &raw)))
            break;
        proto_hash(raw.data, raw.len, h);
        rc = g->emit(raw.data, raw.len, g->arg);
        g->events++;
    }
    buf_free(&body);
    buf_free(&raw);
    free(v);
    json_array_clear(g->evs);
    return rc;
}

static const char *cg_category(cg_t *g, bool rural)
{
    /* worker, farmer, intellectual, cadre, business, other */
    static const int urban[] = {22, 4, 22, 28, 18, 6}, rur[] = {8, 38, 14, 24, 12, 4};
    static const char *const c[] = {"worker", "farmer", "intellectual", "cadre", "business",
                                    "other"};
    const int *w = rural ? rur : urban;
    int x = cg_pick(g, 100), i = 0;
    while (i < 5 && x >= w[i])
        x -= w[i++];
    return c[i];
}

static json_t *cg_background(cg_t *g)
{
    json_t *a = json_array();
    if (cg_p(g, 0.07))
        json_array_append_new(a, json_string("law"));
    if (cg_p(g, 0.06))
        json_array_append_new(a, json_string("finance"));
    if (cg_p(g, 0.2))
        json_array_append_new(a, json_string(cg_p(g, 0.5) ? "education" : "agriculture"));
    return a;
}

/* One deputy's registration and year: `id` within the unit. */
static void cg_deputy(cg_t *g, const char *id, const char *level, bool rural, double p_report)
{
    int y = g->o->year, y0 = cg_day(y, 1, 1), ny = cg_day(y + 1, 1, 1) - y0;
    double m = g->o->activity > 0 ? g->o->activity : 1;
    char term[16];
    snprintf(term, sizeof term, "%d-%d", (y - 4) % 10000, (y + 1) % 10000);
    json_t *reg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "deputy", id, "name",
                            cg_names[cg_pick(g, 16)], "level", level, "category",
                            cg_category(g, rural), "term", term, "constituency", "第3选区");
    json_t *bg = cg_background(g);
    if (json_array_size(bg))
        json_object_set(reg, "background", bg);
    json_decref(bg);
    cg_ev(g, cg_day(y - 4, 12, 1) + cg_pick(g, 20), 0, "deputy.registered", reg);
    int left = cg_p(g, 0.025) ? y0 + cg_pick(g, ny) : 0;
    int end = left ? left : y0 + ny;   /* activity stops when the deputy leaves */
    if (cg_p(g, 0.03))
        cg_ev(g, y0 + cg_pick(g, ny), cg_lag(g), "deputy.updated",
              json_pack("{s:s, s:s}", "deputy", id, "category", cg_category(g, rural)));
    for (int i = cg_count(g, 6 * m); i > 0; i--)
        cg_ev(g, y0 + cg_pick(g, end - y0), cg_lag(g), "deputy.contact",
              json_pack("{s:s, s:s, s:i, s:s}", "deputy", id, "channel",
                        cg_p(g, 0.6) ? "reception_day" : "visit", "constituents",
                        3 + cg_pick(g, 30), "topic", cg_topics[cg_pick(g, 10)]));
    if (cg_p(g, p_report))
        cg_ev(g, y0 + cg_pick(g, end - y0), cg_lag(g), "deputy.duty_report",
              json_pack("{s:s, s:i}", "deputy", id, "audience", 20 + cg_pick(g, 80)));
    int tr = cg_pick(g, 100) < 15 ? 0 : cg_pick(g, 100) < 25 ? 1 : 2 + cg_pick(g, 2);
    for (int i = 0; i < tr; i++)   /* over the term so far: last year and this one */
        cg_ev(g, y0 - 365 + cg_pick(g, end - y0 + 365), cg_lag(g), "deputy.training",
              json_pack("{s:s, s:s, s:i}", "deputy", id, "topic", "代表履职能力培训",
                        "hours", 4 + cg_pick(g, 12)));
    for (int s = 0; s < 2; s++) {
        int d = y0 + 14 + s * 180 + cg_pick(g, 10);
        if (d < end)
            cg_ev(g, d, cg_lag(g), "deputy.attendance",
                  json_pack("{s:s, s:s, s:s}", "deputy", id, "meeting", s ? "第二次会议" : "第一次会议",
                            "status", cg_p(g, 0.92) ? "present" : cg_p(g, 0.7) ? "excused" : "absent"));
    }
    if (cg_p(g, 0.3))
        cg_ev(g, y0 + cg_pick(g, end - y0), cg_lag(g), "deputy.evaluation",
              json_pack("{s:s, s:s, s:i}", "deputy", id, "rating",
                        cg_p(g, 0.8) ? "satisfied" : "basically_satisfied", "score", 60 + cg_pick(g, 40)));
    for (int i = cg_count(g, 1.2 * m); i > 0; i--) {
        char sid[48];
        snprintf(sid, sizeof sid, "%s-s%d", id, i);
        int d = y0 + cg_pick(g, end - y0);
        cg_ev(g, d, cg_lag(g), "suggestion.submitted",
              json_pack("{s:s, s:s, s:s}", "suggestion", sid, "deputy", id, "title", "关于加强农村道路养护的建议"));
        if (!cg_p(g, 0.9))
            continue;
        d += 3 + cg_pick(g, 12);
        cg_ev(g, d, cg_lag(g), "suggestion.assigned",
              json_pack("{s:s, s:s}", "suggestion", sid, "handler", cg_offices[cg_pick(g, 10)]));
        if (!cg_p(g, 0.85))
            continue;
        d += 10 + cg_pick(g, 110);
        cg_ev(g, d, cg_lag(g), "suggestion.answered",
              json_pack("{s:s, s:s}", "suggestion", sid, "answer", "已列入年度计划，分步实施"));
        static const char *const r[] = {"satisfied", "satisfied", "basically_satisfied",
                                        "dissatisfied"};
        if (cg_p(g, 0.75)) {
            d += 5 + cg_pick(g, 25);
            cg_ev(g, d, cg_lag(g), "suggestion.rated",
                  json_pack("{s:s, s:s}", "suggestion", sid, "rating", r[cg_pick(g, 4)]));
            if (cg_p(g, 0.05))   /* rated again after a second answer: the later counts */
                cg_ev(g, d + 20 + cg_pick(g, 20), cg_lag(g), "suggestion.rated",
                      json_pack("{s:s, s:s}", "suggestion", sid, "rating", r[cg_pick(g, 4)]));
        }
        if (cg_p(g, 0.65))
            cg_ev(g, d + 5 + cg_pick(g, 20), cg_lag(g), "suggestion.closed",
                  json_pack("{s:s, s:s}", "suggestion", sid, "outcome", cg_p(g, 0.7) ? "solved" : "planned"));
    }
    if (left) {
        static const char *const why[] = {"resigned", "resigned", "transferred", "persuaded",
                                          "persuaded", "deceased"};
        cg_ev(g, left, cg_lag(g), "deputy.left",
              json_pack("{s:s, s:s}", "deputy", id, "reason", why[cg_pick(g, 6)]));
    }
}

static void cg_supervision(cg_t *g, double scale, const char *office_prefix)
{
    int y0 = cg_day(g->o->year, 1, 1);
    static const char *const kinds[] = {"supervision.visit", "supervision.law_check",
        "supervision.inquiry", "supervision.interpellation", "supervision.investigation",
        "supervision.decision_vote", "supervision.report_review", "supervision.budget_review"};
    static const double mean[] = {5, 2, 1, 0.15, 0.3, 1, 2, 1};
    for (int k = 0; k < 8; k++)
        for (int i = cg_count(g, mean[k] * scale); i > 0; i--) {
            const char *t = cg_topics[cg_pick(g, 10)];
            json_t *b = k == 1 ? json_pack("{s:s, s:s}", "law", "中华人民共和国食品安全法", "topic", t)
                      : k == 3 ? json_pack("{s:s, s:s}", "target", "镇政府", "topic", t)
                      : k == 5 ? json_pack("{s:s, s:s}", "topic", t, "result", "adopted")
                      : k == 6 ? json_pack("{s:s}", "report", "政府工作报告")
                      : k == 7 ? json_pack("{s:i}", "year", g->o->year)
                      : json_pack("{s:s}", "topic", t);
            cg_ev(g, y0 + cg_pick(g, 365), cg_lag(g), kinds[k], b);
        }
    /* Work reviews: a few offices each year, some clearly worse than others. */
    for (int i = 0; i < 4; i++) {
        int o = cg_pick(g, 10);
        char target[64];
        snprintf(target, sizeof target, "%s%s", office_prefix, cg_offices[o]);
        int base = 60 + (o * 7) % 35;
        for (int r = cg_count(g, 1.5 * scale) + 1; r > 0; r--)
            cg_ev(g, y0 + cg_pick(g, 365), cg_lag(g), "supervision.work_review",
                  json_pack("{s:s, s:i, s:i}", "target", target, "score",
                            base + cg_pick(g, 10), "voters", 30 + cg_pick(g, 40)));
    }
}

/* The unit `origin` answers the joints whose scope covers it. */
static void cg_joint_part(cg_t *g, const char *origin)
{
    size_t olen = strlen(origin);
    for (int j = 0; j < g->njoints; j++) {
        struct cg_joint *J = &g->joints[j];
        bool in = false;
        for (int s = 0; s < J->nscope; s++)
            in |= proto_origin_within(origin, olen, J->scope[s], strlen(J->scope[s]));
        if (!in || strcmp(origin, J->opener) == 0 || !cg_p(g, 0.85))
            continue;
        int d = J->open_day + 10 + cg_pick(g, 70);   /* due is 60 days after opening */
        for (int f = cg_pick(g, 3); f > 0; f--) {
            cg_ev(g, d - 5, 0, "joint.finding",
                  json_pack("{s:s, s:s, s:s, s:s}", "joint", J->id, "site", "中心小学",
                            "problem", "学位不足", "severity", cg_p(g, 0.3) ? "high" : "medium"));
            /* The finding's id is only known once it is encoded: the
             * rectification names it by a tag that cg_flush resolves. */
            char tag[16];
            snprintf(tag, sizeof tag, "@%d", ++g->nfind);
            json_array_append_new(json_array_get(g->evs, json_array_size(g->evs) - 1),
                                  json_string(tag));
            if (cg_p(g, 0.6))
                cg_ev(g, d + 20 + f, 0, "joint.rectification",
                      json_pack("{s:s, s:s, s:s}", "joint", J->id, "finding", tag,
                                "status", cg_p(g, 0.6) ? "done" : "in_progress"));
        }
        cg_ev(g, d, 0, "joint.report",
              json_pack("{s:s, s:s}", "joint", J->id, "summary", "已按要求完成自查并报告"));
    }
}

/* Per-unit duty-report participation: most units high, a few low; 延寿县 as
 * the report says. */
static double cg_p_report(cg_t *g, const char *origin)
{
    if (strncmp(origin, "hrb/yanshou", 11) == 0)
        return 0.945;
    return cg_p(g, 0.2) ? 0.55 + 0.2 * cg_unif(g) : 0.8 + 0.2 * cg_unif(g);
}

/* Opens a joint inspection of `opener` (its next event is `seq`). */
static void cg_open_joint(cg_t *g, const char *opener, uint64_t seq, int nscope,
                          const char *const *scope, int month)
{
    if (g->njoints == 64)
        return;
    struct cg_joint *J = &g->joints[g->njoints++];
    snprintf(J->id, sizeof J->id, "%s#%llu", opener, (unsigned long long)seq);
    snprintf(J->opener, sizeof J->opener, "%s", opener);
    J->open_day = cg_day(g->o->year, month, 5);
    J->due_day = J->open_day + 60;
    J->nscope = nscope < 8 ? nscope : 8;
    json_t *sc = json_array();
    for (int i = 0; i < J->nscope; i++) {
        snprintf(J->scope[i], sizeof J->scope[i], "%s", scope[i]);
        json_array_append_new(sc, json_string(scope[i]));
    }
    char from[11], due[11];
    cg_date(J->open_day, from);
    cg_date(J->due_day, due);
    /* Recorded first in the unit's queue on its day: seq is predictable
     * because the opener records it before anything else (lag -400). */
    cg_ev(g, J->open_day, -4000 + g->njoints, "joint.opened",
          json_pack("{s:s, s:s, s:o, s:s, s:s}", "title", "中小学学位供给专题调研", "type",
                    "research", "scope", sc, "from", from, "due", due));
}

static void cg_unit_events(cg_t *g, const char *origin, const char *name, const char *type,
                           const char *parent, bool register_self)
{
    int y = g->o->year;
    if (register_self)
        cg_ev(g, cg_day(y - 4, 11, 20), -8000, "unit.registered",
              parent ? json_pack("{s:s, s:s, s:s, s:s}", "id", origin, "name", name, "type", type,
                                 "parent", parent)
                     : json_pack("{s:s, s:s, s:s}", "id", origin, "name", name, "type", type));
    bool town = strcmp(type, "township") == 0 || strcmp(type, "street") == 0;
    bool rural = strcmp(type, "township") == 0 || strcmp(type, "county") == 0;
    const char *level = strcmp(type, "township") == 0 ? "township"
                      : strcmp(type, "city") == 0 ? "city" : "district";
    int ndep = strcmp(type, "township") == 0 ? 28 + cg_pick(g, 18)
             : strcmp(type, "street") == 0 ? 10 + cg_pick(g, 8)
             : strcmp(type, "city") == 0 ? 60 : 50 + cg_pick(g, 30);
    double p = cg_p_report(g, origin);
    for (int i = 1; i <= ndep; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%03d", i);
        cg_deputy(g, id, level, rural, p);
    }
    cg_supervision(g, town ? 1 : 3, town ? "" : (strcmp(type, "county") == 0 ? "县" : "区"));
    cg_joint_part(g, origin);
}

/* Runs the generator; emits every event. */
static int citygen_run(const cg_opts_t *o, cg_emit_fn emit, void *arg, uint64_t *events)
{
    cg_t *g = calloc(1, sizeof *g);
    cg_opts_t d = *o;
    if (!d.year) d.year = 2025;
    if (!d.now_ms) d.now_ms = (uint64_t)cg_day(d.year + 1, 1, 10) * 86400000ull + 36000000;
    if (!d.townships) d.townships = 16;
    if (d.activity <= 0) d.activity = 1;
    g->o = &d;
    g->rng = 88172645463325252ull ^ (d.seed * 0x9E3779B97F4A7C15ull);
    g->emit = emit;
    g->arg = arg;
    g->evs = json_array();
    g->found = json_object();
    int rc = 0;
    /* The city: three city-wide joint inspections over several districts. */
    bool root_new = d.root_seq == 0;
    uint64_t seq = root_new ? 1 : d.root_seq + 1;
    static const char *const sc[3][3] = {{"hrb/daoli", "hrb/nangang", "hrb/yanshou"},
                                        {"hrb/shangzhi", "hrb/wuchang", "hrb/yilan"},
                                        {"hrb/songbei", "hrb/daowai", "hrb/yanshou"}};
    for (int j = 0; j < 3; j++)
        cg_open_joint(g, "hrb", seq + (root_new ? 1 : 0) + (uint64_t)j, 3, sc[j], 3 + 2 * j);
    cg_unit_events(g, "hrb", "哈尔滨市", "city", NULL, root_new);
    rc = cg_flush(g, "hrb", seq, d.root_prev, d.now_ms);
    for (int i = 0; i < 18 && !rc; i++) {
        char dist[64];
        snprintf(dist, sizeof dist, "hrb/%s", cg_districts[i].id);
        if (d.only && strcmp(d.only, dist) != 0)
            continue;
        const char *scope[1] = {dist};
        cg_open_joint(g, dist, 2, 1, scope, 4 + i % 6);
        cg_unit_events(g, dist, cg_districts[i].name, cg_districts[i].type, "hrb", true);
        static const uint8_t zero[PROTO_HASH_LEN];
        if ((rc = cg_flush(g, dist, 1, zero, d.now_ms)))
            break;
        bool urban = strcmp(cg_districts[i].type, "district") == 0;
        for (int t = 0; t < d.townships && !rc; t++) {
            char id[96], name[64];
            const char *type = urban && t % 2 == 0 ? "street" : "township";
            snprintf(id, sizeof id, "%s/t%02d", dist, t + 1);
            snprintf(name, sizeof name, "%s%s", cg_town_names[(t + i * 3) % 20],
                     strcmp(type, "street") == 0 ? "街道" : t % 3 == 2 ? "乡" : "镇");
            for (size_t k = 0; t == 0 && k < sizeof cg_named / sizeof *cg_named; k++)
                if (strcmp(cg_named[k].district, cg_districts[i].id) == 0) {
                    snprintf(id, sizeof id, "%s/%s", dist, cg_named[k].id);
                    snprintf(name, sizeof name, "%s", cg_named[k].name);
                    type = cg_named[k].type;
                }
            cg_unit_events(g, id, name, type, dist, true);
            /* Every tenth township has gone quiet: nothing recorded for a month. */
            uint64_t end = (t + i) % 10 == 9 ? d.now_ms - 30ull * 86400000 : d.now_ms;
            rc = cg_flush(g, id, 1, zero, end);
        }
    }
    if (events)
        *events = g->events;
    json_decref(g->evs);
    json_decref(g->found);
    free(g);
    return rc;
}

#endif
