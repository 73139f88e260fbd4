/* pvsh's file commands on 9pfs share 0 (ls, cat, write, rm). */
#ifndef APPS_SHARE_H
#define APPS_SHARE_H

/* Each prints its result or one error line; 0 or 1. */
int share_ls(const char *dir);
int share_cat(const char *path);
int share_write(const char *path, int nwords, char **words);
int share_rm(const char *path);

#endif
