#ifndef JEMALLOC_CONFIG_H
#define JEMALLOC_CONFIG_H
/* Referencing this keeps config.c (and its malloc_conf) in the executable. */
int jemalloc_config_linked(void);
#endif
