/* String and memory functions (freestanding; gcc may also emit calls to
 * memcpy/memset/memmove/memcmp itself). */
#ifndef KIT_STRING_H
#define KIT_STRING_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t strlcpy(char *dst, const char *src, size_t size);
/* Parses an optionally signed decimal (or 0x hex) number; *end (if not NULL)
 * gets the first unparsed character. */
long strtol(const char *s, const char **end, int base);
int isspace(int c);
int isdigit(int c);

#endif
