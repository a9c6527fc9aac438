/*
 * What the libFuzzer targets share: a check that aborts (so that libFuzzer
 * keeps the input as a crash), the check that a text which may reach output
 * is valid UTF-8, a private temporary directory for the parsers that read
 * files, and the splitting of one input into several files.
 *
 * Every target is a file fuzz_NAME.c defining LLVMFuzzerTestOneInput() and
 * listed in tests/fuzz/meson.build; its seed corpus is corpus/NAME/.
 */
#ifndef EC2M_FUZZ_H
#define EC2M_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The entry points libFuzzer calls. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "fuzz check failed: FILE:LINE: COND: message" and aborts. */
void fuzz_fail(const char *file, int line, const char *cond,
    const char *fmt, ...) __attribute__((noreturn, format(printf, 4, 5)));

/* Aborts with a message when cond is false. */
#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);	\
} while (0)

/* Aborts unless s (NUL-terminated; NULL is fine) is valid UTF-8, printing
 * it with its invalid bytes escaped.  what names the text in the
 * message. */
void fuzz_check_utf8(const char *what, const char *s);

/* A private directory, made on the first call and removed with the files
 * the target wrote into it when the process exits. */
const char *fuzz_tmpdir(void);

/* A new path dir/name under fuzz_tmpdir() (free() it); the file is removed
 * at exit. */
char *fuzz_path(const char *name);

/* Replaces the file at path with data[0..len); aborts on an I/O error. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t len);

/* Removes the file at path if it exists. */
void fuzz_remove_file(const char *path);

/* One piece of an input. */
struct fuzz_part {
	const uint8_t *data;
	size_t	 len;
};

/* The line that separates the files of one input: an input
 * "A\n%%\nB\n%%\nC" is the three files "A\n", "B\n" and "C".  The line
 * "%%" is a syntax error for libinih (no "="), which reads every file the
 * targets split, so the marker takes nothing away from what can be
 * expressed. */
#define FUZZ_SEPARATOR "%%"

/* Splits data at the separator lines into at most max parts (the last one
 * keeps any further separators).  Returns the number of parts, >= 1. */
size_t fuzz_split(const uint8_t *data, size_t size, struct fuzz_part *parts,
    size_t max);

#endif
