/*
 * log.h -- the one logging module: leveled, structured lines on stderr.
 *
 *   2026-11-28T02:24:16.123Z INFO hub: child connected origin=hrb/wuchang/shanhe
 *
 * Daemons log; library modules do not (they return errors, STYLE item 8).
 * The level comes from log_set_level() or the LIANDONG_LOG environment
 * variable (error, warn, info, debug). Thread-safe: each line is one write.
 */
#ifndef LD_COMMON_LOG_H
#define LD_COMMON_LOG_H

/* LOG_SILENT: nothing at all (a command that reports its own outcome). */
typedef enum log_level { LOG_SILENT = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level_t;

void log_set_level(log_level_t level);
/* Reads LIANDONG_LOG; unknown values leave the level unchanged. */
void log_init_from_env(void);
void log_write(log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(mod, ...) log_write(LOG_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_write(LOG_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...)  log_write(LOG_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_write(LOG_DEBUG, mod, __VA_ARGS__)

#endif
