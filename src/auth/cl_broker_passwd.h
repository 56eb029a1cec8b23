/*
 * Device tokens as MQTT passwords. carelake subscribes to a broker; the
 * broker, not carelake, authenticates the devices that publish to it.
 * So that a device can use one credential for both (its carelake device
 * token over HTTP, the same token as its MQTT password), carelake writes
 * the token into mosquitto's password file in mosquitto's own form, and
 * the broker's ACL (`pattern write devices/%u/messages/events`) binds
 * the user name, the device id, to its topic (docs/mqtt.md).
 *
 * The form is mosquitto 2's: "user:$7$101$<salt>$<hash>", PBKDF2 with
 * HMAC-SHA512, 101 iterations, a 12-byte random salt and a 64-byte hash,
 * both in standard base64. The file is rewritten whole (cl_fs_write_atomic:
 * a broker reading it sees the old file or the new one, never half of
 * one), keeping the mode, owner and group of the file it replaces (a new
 * one is made 0600); the broker reads it again on SIGHUP.
 */
#ifndef CL_BROKER_PASSWD_H
#define CL_BROKER_PASSWD_H

#include <stddef.h>

/* Bytes of a line's text, with the user name and the NUL. */
#define CL_BROKER_PASSWD_LINE_MAX 320

/* The password file line of user (without the newline) into out[cap].
 * CL_EINVAL when the user name holds a ':' or a control character, is
 * empty or too long. */
int cl_broker_passwd_line(const char *user, const char *password, char *out, size_t cap);

/* 1 when `line` (as cl_broker_passwd_line writes it) holds `password`. */
int cl_broker_passwd_check(const char *line, const char *password);

/* Sets user's password in the file at path: its line replaced, or added
 * (the file made if there is none); every other line kept as it was. */
int cl_broker_passwd_set(const char *path, const char *user, const char *password);

/* Removes user's line from the file: CL_ENOENT when it has none. */
int cl_broker_passwd_remove(const char *path, const char *user);

#endif
