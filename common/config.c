/*
 * config.c -- reads and writes DIR/liandong.conf; see config.h.
 *
 * The set of keys is a table: each key has its help text (written into the
 * file as a comment above it) and a validator. Adding a setting means adding
 * a row.
 */
#include "common/config.h"
#include "common/err.h"
#include "proto/event.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

typedef int (*config_check_fn)(const char *value);

static int check_origin(const char *v) { return proto_origin_valid(v, strlen(v)); }
static int check_any(const char *v) { (void)v; return 1; }
static int check_type(const char *v)
{
    static const char *const types[] = {"township", "street", "district", "county", "city"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(v, types[i]) == 0)
            return 1;
    return 0;
}
static int check_key(const char *v)
{
    uint8_t raw[32];
    return !*v || (strlen(v) == 40 && zmq_z85_decode(raw, v) != NULL);
}
static int check_endpoint(const char *v) { return !*v || config_endpoint_valid(v); }
static int check_days(const char *v)
{
    char *end;
    errno = 0;
    long d = strtol(v, &end, 10);
    return !*v || (!errno && *end == '\0' && d >= 1 && d <= 3650);
}

static const struct {
    config_key_info_t info;
    config_check_fn check;
} config_table[] = {
    {{"id", "this unit's origin id, e.g. hrb/wuchang/shanhe. Never change it: every "
            "event this unit recorded carries it."}, check_origin},
    {{"name", "display name, e.g. 山河镇"}, check_any},
    {{"type", "township | street | district | county | city"}, check_type},
    {{"upstream", "the parent hub's endpoint, tcp://HOST:PORT (its control port; data "
                  "uses the next two ports). Empty: no parent (the city, or offline)."},
     check_endpoint},
    {{"upstream_key", "the parent hub's public key (Z85, 40 characters), as its init "
                      "printed it. The link refuses any other server."}, check_key},
    {{"listen", "hubs: where to accept children, tcp://ADDRESS:PORT; PORT is control, "
                "PORT+1 data up, PORT+2 data down."}, check_endpoint},
    {{"stale_days", "hubs: a child not heard from for this many days is shown as stale "
                    "(default 7)."}, check_days},
};
#define CONFIG_NKEYS (sizeof config_table / sizeof *config_table)

struct config {
    char *values[CONFIG_NKEYS];
};

static int key_index(const char *key)
{
    for (size_t i = 0; i < CONFIG_NKEYS; i++)
        if (strcmp(config_table[i].info.key, key) == 0)
            return (int)i;
    return -1;
}

const config_key_info_t *config_keys(int *count)
{
    static config_key_info_t infos[CONFIG_NKEYS];
    for (size_t i = 0; i < CONFIG_NKEYS; i++)
        infos[i] = config_table[i].info;
    *count = (int)CONFIG_NKEYS;
    return infos;
}

int config_endpoint_valid(const char *s)
{
    if (strncmp(s, "tcp://", 6) != 0)
        return 0;
    const char *host = s + 6, *colon = strrchr(host, ':');
    if (!colon || colon == host)
        return 0;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    /* PORT+2 must still be a port: the data sockets use the next two. */
    return !errno && *end == '\0' && colon[1] && port >= 1 && port <= 65533;
}

int config_new(config_t **out)
{
    config_t *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(LD_ENOMEM, "out of memory");
    *out = c;
    return 0;
}

void config_destroy(config_t **c)
{
    if (!c || !*c)
        return;
    for (size_t i = 0; i < CONFIG_NKEYS; i++)
        free((*c)->values[i]);
    free(*c);
    *c = NULL;
}

const char *config_get(const config_t *c, const char *key)
{
    int i = key_index(key);
    if (i < 0)
        return NULL;
    return c->values[i] ? c->values[i] : "";
}

int config_set(config_t *c, const char *key, const char *value)
{
    int i = key_index(key);
    if (i < 0)
        return err_set(LD_EINVAL, "unknown setting '%s' (see `config --help`)", key);
    if (strchr(value, '\n') || !config_table[i].check(value))
        return err_set(LD_ECONFIG, "setting '%s': invalid value '%s' (%s)", key, value,
                       config_table[i].info.help);
    char *dup = strdup(value);
    if (!dup)
        return err_set(LD_ENOMEM, "out of memory");
    free(c->values[i]);
    c->values[i] = dup;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int parse_line(config_t *c, char *line, const char *path, int lineno)
{
    char *s = trim(line);
    if (!*s || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq)
        return err_set(LD_ECONFIG, "%s:%d: expected `key = value`", path, lineno);
    *eq = '\0';
    int rc = config_set(c, trim(s), trim(eq + 1));
    return rc ? err_wrap(LD_ECONFIG, "%s:%d", path, lineno) : 0;
}

int config_load(const char *path, config_t **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(errno == ENOENT ? LD_ECONFIG : err_from_errno(errno),
                       "%s: %s (is this a data directory made by `init`?)", path,
                       strerror(errno));
    config_t *c = NULL;
    int rc = config_new(&c);
    char line[4096];
    for (int lineno = 1; !rc && fgets(line, sizeof line, f); lineno++)
        rc = parse_line(c, line, path, lineno);
    fclose(f);
    if (rc) {
        config_destroy(&c);
        return rc;
    }
    *out = c;
    return 0;
}

static int write_all(FILE *f, const config_t *c)
{
    fprintf(f, "# Liandong unit configuration (liandong.conf).\n"
               "# Written by `init`; change it with `config set KEY VALUE` or by hand.\n"
               "# One `key = value` per line; '#' starts a comment.\n");
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        fprintf(f, "\n# %s\n", config_table[i].info.help);
        fprintf(f, "%s = %s\n", config_table[i].info.key,
                c->values[i] ? c->values[i] : "");
    }
    return fflush(f) || fsync(fileno(f)) ? -1 : 0;
}

int config_save(const config_t *c, const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return err_set(err_from_errno(errno), "%s: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return err_set(err_from_errno(errno), "%s: %s", tmp, strerror(errno));
    }
    int bad = write_all(f, c);
    int e = errno;
    if (fclose(f) || bad) {
        unlink(tmp);
        return err_set(err_from_errno(e ? e : EIO), "%s: write failed", tmp);
    }
    if (rename(tmp, path))
        return err_set(err_from_errno(errno), "%s: %s", path, strerror(errno));
    return 0;
}
