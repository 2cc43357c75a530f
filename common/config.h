/*
 * config.h -- the unit's configuration file, DIR/liandong.conf.
 *
 * A human-readable file of `key = value` lines; '#' starts a comment. Each
 * known key is written with a comment that explains it, so an operator can
 * read and edit the file by hand. Unknown keys and malformed lines are
 * errors naming the line, because a typo in `upstream_key` must not be
 * silently ignored. Values are UTF-8 text without newlines.
 *
 * A config_t is a plain object (config_new/config_destroy); not thread-safe.
 * Errors: LD_ECONFIG (bad file or value), LD_EINVAL (unknown key), negated
 * errno for I/O; err_msg() is set.
 */
#ifndef LD_COMMON_CONFIG_H
#define LD_COMMON_CONFIG_H

typedef struct config config_t;

int config_new(config_t **out);
void config_destroy(config_t **c);

int config_load(const char *path, config_t **out);
/* Writes atomically (temporary file, fsync, rename). */
int config_save(const config_t *c, const char *path);

/* The value, or "" if the key is known but unset; NULL if unknown. The
 * string lives until the key is set again or the config destroyed. */
const char *config_get(const config_t *c, const char *key);
/* Validates the value for its key (an endpoint, a Z85 key, an origin...). */
int config_set(config_t *c, const char *key, const char *value);

/* For `config --help`: the known keys and their one-line descriptions. */
typedef struct config_key_info {
    const char *key;
    const char *help;
} config_key_info_t;
const config_key_info_t *config_keys(int *count);

/* True if s is a ZeroMQ tcp endpoint we accept: tcp://HOST:PORT. */
int config_endpoint_valid(const char *s);

#endif
