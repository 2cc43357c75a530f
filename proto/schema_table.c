/*
 * schema_table.c -- the data of the schema: every event kind of BRIEF
 * section 2 with its body fields, their types, limits and descriptions.
 *
 * This file is only data; the rules that read it are in schema.c. To add a
 * kind, add its field array and one KIND() line: every creation path, the
 * network decoder, `kinds` and the docs follow. Fields keep their display
 * order (required first); the wire order is the canonical key order.
 */
#include "proto/schema.h"

/* Every name is a string literal: name_len is its sizeof - 1 (a test checks). */

/* Field constructors: r/o = required/optional. */
#define STR(n, max, req, desc)  {.name = n, .name_len = sizeof(n) - 1, .type = PROTO_T_STRING, .required = req, .max_len = max, .description = desc}
#define ORIG(n, req, desc)      {.name = n, .name_len = sizeof(n) - 1, .type = PROTO_T_STRING, .required = req, .max_len = 160, .description = desc, .format = PROTO_FMT_ORIGIN}
#define REF(n, req, desc)       {.name = n, .name_len = sizeof(n) - 1, .type = PROTO_T_STRING, .required = req, .max_len = 200, .description = desc, .format = PROTO_FMT_EVENT_REF}
#define INT(n, lo, hi, req, desc) {.name = n, .name_len = sizeof(n) - 1, .type = PROTO_T_INT, .required = req, .min = lo, .max = hi, .description = desc}
#define DATE(n, req, desc)      {.name = n, .name_len = sizeof(n) - 1, .type = PROTO_T_DATE, .required = req, .description = desc}
#define ENUM(n, vals, req, desc) {.name = n, .name_len = sizeof(n) - 1, .type = PROTO_T_ENUM, .required = req, .values = vals, .description = desc}
#define LIST(n, items, max, req, desc) {.name = n, .name_len = sizeof(n) - 1, .type = PROTO_T_LIST, .required = req, .max_items = items, .max_len = max, .description = desc}
#define R true
#define O false

/* Fields many kinds share. */
#define NOTE             STR("note", 2000, O, "free remark")
#define DEPUTY           STR("deputy", 32, R, "the deputy's id within the unit")
#define SUGGESTION       STR("suggestion", 32, R, "the suggestion's id, as given when it was submitted")
#define JOINT            REF("joint", R, "the inspection: the id of its joint.opened event, ORIGIN#SEQ")
#define TOPIC(req)       STR("topic", 200, req, "subject of the activity")
#define TARGET(req)      STR("target", 64, req, "the body or unit supervised")
#define FINDINGS         STR("findings", 8000, O, "what was found")
#define DEPUTIES         LIST("deputies", 200, 32, O, "ids of the deputies who took part")
#define PARTICIPANTS     INT("participants", 0, 100000, O, "number of people who took part")
#define PEOPLE(n, desc)  INT(n, 0, 100000, O, desc)

static const char *const v_unit_type[] = {"township", "street", "district", "county", "city", NULL};
static const char *const v_gender[] = {"male", "female", NULL};
static const char *const v_level[] = {"township", "district", "city", "province", "national", NULL};
static const char *const v_category[] = {"worker", "farmer", "intellectual", "cadre", "business",
                                         "other", NULL};
static const char *const v_left[] = {"term_end", "resigned", "persuaded", "removed", "deceased",
                                     "transferred", "other", NULL};
static const char *const v_channel[] = {"reception_day", "visit", "home_station", "online",
                                        "phone", "other", NULL};
static const char *const v_rating[] = {"satisfied", "basically_satisfied", "dissatisfied", NULL};
static const char *const v_status[] = {"present", "excused", "absent", NULL};
static const char *const v_outcome[] = {"solved", "in_progress", "planned", "reference", NULL};
static const char *const v_result[] = {"adopted", "rejected", NULL};
static const char *const v_joint_type[] = {"research", "visit", "law_check", "inquiry", NULL};
static const char *const v_severity[] = {"low", "medium", "high", NULL};
static const char *const v_rectified[] = {"in_progress", "done", NULL};

#define LEVEL_DESC "level of the congress the deputy sits in (district = county level, 区县)"
#define CATEGORY_DESC "occupation category, for the deputies' structure (代表结构)"
#define BACKGROUND_DESC "professional background, e.g. law, finance"

/* ---- unit ---- */
static const proto_field_t f_unit_registered[] = {
    ORIG("id", R, "the unit's origin id, e.g. hrb/wuchang/shanhe"),
    STR("name", 64, R, "display name, e.g. 山河镇"),
    ENUM("type", v_unit_type, R, "kind of unit"),
    ORIG("parent", O, "origin id of the unit above"),
    NOTE,
};

/* ---- deputy ---- */
static const proto_field_t f_deputy_registered[] = {
    DEPUTY,
    STR("name", 32, R, "full name"),
    ENUM("gender", v_gender, O, "gender"),
    ENUM("level", v_level, R, LEVEL_DESC),
    STR("constituency", 64, O, "electoral district (选区)"),
    ENUM("category", v_category, R, CATEGORY_DESC),
    LIST("background", 8, 32, O, BACKGROUND_DESC),
    STR("term", 16, R, "term of office, e.g. 2021-2026"),
    STR("ethnicity", 16, O, "ethnic group"),
    NOTE,
};

static const proto_field_t f_deputy_updated[] = {
    DEPUTY,
    STR("name", 32, O, "full name"),
    ENUM("gender", v_gender, O, "gender"),
    ENUM("level", v_level, O, LEVEL_DESC),
    STR("constituency", 64, O, "electoral district (选区)"),
    ENUM("category", v_category, O, CATEGORY_DESC),
    LIST("background", 8, 32, O, BACKGROUND_DESC),
    STR("term", 16, O, "term of office, e.g. 2021-2026"),
    NOTE,
};

static const proto_field_t f_deputy_left[] = {
    DEPUTY,
    ENUM("reason", v_left, R, "why the deputy left (persuaded = 劝辞, persuaded resignation)"),
    NOTE,
};

/* ---- deputy activity ---- */
static const proto_field_t f_deputy_contact[] = {
    DEPUTY,
    ENUM("channel", v_channel, R, "how constituents were met (reception_day = 接待日)"),
    PEOPLE("constituents", "number of constituents met"),
    TOPIC(O),
    NOTE,
};

static const proto_field_t f_deputy_duty_report[] = {
    DEPUTY,
    PEOPLE("audience", "number of voters present"),
    STR("summary", 2000, O, "what was reported"),
    NOTE,
};

static const proto_field_t f_deputy_evaluation[] = {
    DEPUTY,
    ENUM("rating", v_rating, R, "overall rating by the voters"),
    PEOPLE("voters", "number of voters who rated"),
    INT("score", 0, 100, O, "score out of 100"),
    NOTE,
};

static const proto_field_t f_deputy_training[] = {
    DEPUTY,
    STR("topic", 200, R, "subject of the training"),
    INT("hours", 0, 1000, O, "length in hours"),
    STR("organiser", 64, O, "who ran the training"),
    NOTE,
};

static const proto_field_t f_deputy_attendance[] = {
    DEPUTY,
    STR("meeting", 200, R, "the session or meeting"),
    ENUM("status", v_status, R, "attendance"),
    NOTE,
};

/* ---- suggestions ---- */
static const proto_field_t f_suggestion_submitted[] = {
    STR("suggestion", 32, R, "the suggestion's id within the unit"),
    STR("deputy", 32, R, "id of the deputy who submitted it"),
    STR("title", 200, R, "title"),
    STR("category", 32, O, "subject area, e.g. education, transport"),
    STR("content", 8000, O, "full text"),
    NOTE,
};

static const proto_field_t f_suggestion_assigned[] = {
    SUGGESTION,
    STR("handler", 64, R, "the office it was assigned to"),
    DATE("deadline", O, "date by which an answer is due"),
    NOTE,
};

static const proto_field_t f_suggestion_answered[] = {
    SUGGESTION,
    STR("handler", 64, O, "the office that answered"),
    STR("answer", 8000, O, "text of the answer"),
    NOTE,
};

static const proto_field_t f_suggestion_rated[] = {
    SUGGESTION,
    ENUM("rating", v_rating, R, "the deputy's view of the answer (满意/基本满意/不满意)"),
    NOTE,
};

static const proto_field_t f_suggestion_closed[] = {
    SUGGESTION,
    ENUM("outcome", v_outcome, O, "how the matter stands at closing"),
    NOTE,
};

/* ---- supervision ---- */
static const proto_field_t f_sup_visit[] = {
    TOPIC(R), TARGET(O), DEPUTIES, PARTICIPANTS, FINDINGS, NOTE,
};

static const proto_field_t f_sup_law_check[] = {
    STR("law", 200, R, "the law or regulation whose enforcement is checked"),
    TOPIC(O), TARGET(O), DEPUTIES, PARTICIPANTS, FINDINGS, NOTE,
};

static const proto_field_t f_sup_inquiry[] = {
    TOPIC(R), TARGET(O),
    INT("questions", 0, 10000, O, "number of questions put"),
    DEPUTIES, NOTE,
};

static const proto_field_t f_sup_interpellation[] = {
    TARGET(R), TOPIC(R),
    INT("signers", 0, 10000, O, "number of deputies who signed the motion"),
    NOTE,
};

static const proto_field_t f_sup_work_review[] = {
    STR("target", 64, R, "the reviewed unit"),
    INT("score", 0, 100, R, "satisfaction score out of 100"),
    TOPIC(O),
    PEOPLE("voters", "number of people who scored"),
    NOTE,
};

static const proto_field_t f_sup_investigation[] = {
    TOPIC(R), TARGET(O), FINDINGS, NOTE,
};

static const proto_field_t f_sup_decision_vote[] = {
    TOPIC(R),
    ENUM("result", v_result, R, "outcome of the vote"),
    PEOPLE("votes_for", "votes in favour"),
    PEOPLE("votes_against", "votes against"),
    PEOPLE("abstentions", "abstentions"),
    NOTE,
};

static const proto_field_t f_sup_report_review[] = {
    STR("report", 200, R, "the work report heard"),
    STR("reporter", 64, O, "the body that reported"),
    STR("opinion", 8000, O, "the deliberation opinion"),
    NOTE,
};

static const proto_field_t f_sup_budget_review[] = {
    INT("year", 1990, 2100, R, "budget year"),
    TOPIC(O),
    STR("opinion", 8000, O, "the review opinion"),
    NOTE,
};

/* ---- linkage ---- */
static const proto_field_t f_joint_opened[] = {
    STR("title", 200, R, "title of the inspection"),
    ENUM("type", v_joint_type, R, "kind of joint work"),
    {.name = "scope", .name_len = sizeof "scope" - 1, .type = PROTO_T_LIST, .required = R, .max_items = 64, .max_len = 160,
     .format = PROTO_FMT_ORIGIN, .description = "origins in scope; each covers its subtree"},
    DATE("from", R, "start date"),
    DATE("due", R, "date by which units in scope report"),
    STR("description", 8000, O, "what is to be done"),
    DEPUTIES, NOTE,
};

static const proto_field_t f_joint_updated[] = {
    JOINT,
    DATE("due", O, "new due date"),
    {.name = "scope", .name_len = sizeof "scope" - 1, .type = PROTO_T_LIST, .required = O, .max_items = 64, .max_len = 160,
     .format = PROTO_FMT_ORIGIN, .description = "new scope, replacing the old one"},
    STR("title", 200, O, "new title"),
    STR("description", 8000, O, "new description"),
    NOTE,
};

static const proto_field_t f_joint_closed[] = {
    JOINT,
    STR("summary", 8000, O, "closing summary"),
    NOTE,
};

static const proto_field_t f_joint_finding[] = {
    JOINT,
    STR("site", 200, R, "where the problem was found"),
    STR("problem", 2000, R, "what the problem is"),
    ENUM("severity", v_severity, R, "how serious it is"),
    DEPUTIES,
    STR("suggestion", 2000, O, "what should be done"),
    NOTE,
};

static const proto_field_t f_joint_report[] = {
    JOINT,
    STR("summary", 8000, R, "the unit's report on its part of the work"),
    PARTICIPANTS, NOTE,
};

static const proto_field_t f_joint_rectification[] = {
    JOINT,
    REF("finding", R, "the finding: the id of its joint.finding event, ORIGIN#SEQ"),
    ENUM("status", v_rectified, R, "state of the rectification (整改)"),
    NOTE,
};

#define KIND(n, g, d, f) {n, sizeof(n) - 1, g, d, f, sizeof f / sizeof f[0]}

/* Read through proto_schema_at()/proto_schema_find() in schema.c. */
extern const proto_kind_t proto_schema_table_[];
extern const size_t proto_schema_table_len_;

const proto_kind_t proto_schema_table_[] = {
    KIND("unit.registered", "unit", "a unit describes itself: id, name, type, parent (单位登记)", f_unit_registered),

    KIND("deputy.registered", "deputy", "a deputy joins the registry (代表登记)", f_deputy_registered),
    KIND("deputy.updated", "deputy", "a deputy's registry entry changes (代表信息变更)", f_deputy_updated),
    KIND("deputy.left", "deputy", "a deputy leaves office, incl. persuaded resignation (代表出缺, 劝辞)", f_deputy_left),

    KIND("deputy.contact", "deputy activity", "a deputy meets constituents, e.g. on a reception day (联系选民, 接待日)", f_deputy_contact),
    KIND("deputy.duty_report", "deputy activity", "a deputy reports on their duties to the voters (代表述职)", f_deputy_duty_report),
    KIND("deputy.evaluation", "deputy activity", "voters rate a deputy (代表测评)", f_deputy_evaluation),
    KIND("deputy.training", "deputy activity", "a deputy attends a training (代表培训)", f_deputy_training),
    KIND("deputy.attendance", "deputy activity", "a deputy's attendance at a session or meeting (出席会议)", f_deputy_attendance),

    KIND("suggestion.submitted", "suggestions", "a deputy submits a suggestion (代表建议提出)", f_suggestion_submitted),
    KIND("suggestion.assigned", "suggestions", "a suggestion is assigned to an office (交办)", f_suggestion_assigned),
    KIND("suggestion.answered", "suggestions", "the office answers a suggestion (答复)", f_suggestion_answered),
    KIND("suggestion.rated", "suggestions", "the deputy rates the answer (满意/基本满意/不满意)", f_suggestion_rated),
    KIND("suggestion.closed", "suggestions", "handling of a suggestion ends (办结)", f_suggestion_closed),

    KIND("supervision.visit", "supervision", "an inspection visit (视察)", f_sup_visit),
    KIND("supervision.law_check", "supervision", "a law enforcement check (执法检查)", f_sup_law_check),
    KIND("supervision.inquiry", "supervision", "a special-topic inquiry (专题询问)", f_sup_inquiry),
    KIND("supervision.interpellation", "supervision", "an interpellation (质询)", f_sup_interpellation),
    KIND("supervision.work_review", "supervision", "a work review with a satisfaction score (工作评议)", f_sup_work_review),
    KIND("supervision.investigation", "supervision", "an investigation of a specific question (特定问题调查)", f_sup_investigation),
    KIND("supervision.decision_vote", "supervision", "a vote on a major matter or public project (重大事项/实事工程票决)", f_sup_decision_vote),
    KIND("supervision.report_review", "supervision", "hearing and deliberating a work report (听取审议工作报告)", f_sup_report_review),
    KIND("supervision.budget_review", "supervision", "a budget review (预算审查)", f_sup_budget_review),

    KIND("joint.opened", "linkage", "a hub opens a joint inspection across its units (上下联动)", f_joint_opened),
    KIND("joint.updated", "linkage", "a hub changes a joint inspection (联动调整)", f_joint_updated),
    KIND("joint.closed", "linkage", "a hub closes a joint inspection (联动结束)", f_joint_closed),
    KIND("joint.finding", "linkage", "a unit in scope records a finding (发现问题)", f_joint_finding),
    KIND("joint.report", "linkage", "a unit in scope reports its part (联动报告)", f_joint_report),
    KIND("joint.rectification", "linkage", "a unit reports rectification of a finding (整改)", f_joint_rectification),
};

const size_t proto_schema_table_len_ = sizeof proto_schema_table_ / sizeof proto_schema_table_[0];
