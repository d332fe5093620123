/*
 * Allocation wrappers that are fatal on ENOMEM, for small fixed-size
 * objects only. Sizes a peer influences are capped by the caller first;
 * such allocations use plain malloc and answer 4xx on failure.
 */
#ifndef POSTERN_XMALLOC_H
#define POSTERN_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
