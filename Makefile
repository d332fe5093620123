# Postern build. `make` builds build/postern; see README.md for the rest.
# Every .c under src/ is part of the program; tests/unit/*_test.c are cmocka
# tests linked against the same objects (built with ASan+UBSan);
# tests/fuzz/*_fuzz.c are libFuzzer targets.

CC      ?= cc
PREFIX  ?= /usr/local
PKGS    := libevent libevent_openssl libevent_pthreads openssl libgsasl \
           libunbound sqlite3 libsodium inih
PYTHON  := /usr/bin/python3

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter -Wformat=2
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) -D_GNU_SOURCE -Isrc -Ibuild/gen \
             $(PKG_CFLAGS) $(CFLAGS)
LIBS    := $(PKG_LIBS) -lpthread

SRC     := $(sort $(shell find src -name '*.c'))
GEN_SRC := build/gen/replies_gen.c
LIB_SRC := $(filter-out src/main.c,$(SRC)) $(GEN_SRC)
GEN_IN  := $(sort $(wildcard data/replies/*.tsv data/replies/*.txt)) scripts/gen_replies.awk

OBJ       := $(patsubst %.c,build/obj/%.o,$(LIB_SRC))
ASAN_OBJ  := $(patsubst %.c,build/asan/obj/%.o,$(LIB_SRC))
FUZZ_OBJ  := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC))

SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined
UNIT_SRC  := $(sort $(wildcard tests/unit/*_test.c))
UNIT_BIN  := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRC))
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/*_fuzz.c))
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60
NPROC   := $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps run check unit integration fuzz fuzz-smoke bench install \
        clean asan
.DELETE_ON_ERROR:

all: build/postern

deps:
	@scripts/deps.sh build

# Generated reply tables (the catalogue is compiled in; no run-time file).
$(GEN_SRC): $(GEN_IN)
	@mkdir -p $(@D)
	awk -f scripts/gen_replies.awk -v out_h=build/gen/replies_gen.h \
	    $(sort $(wildcard data/replies/*.tsv data/replies/*.txt)) > $@.tmp && mv $@.tmp $@
build/gen/replies_gen.h: $(GEN_SRC)

build/obj/%.o: %.c build/gen/replies_gen.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@
build/asan/obj/%.o: %.c build/gen/replies_gen.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -MMD -MP -c $< -o $@
build/fuzz/obj/%.o: %.c build/gen/replies_gen.h
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -O1 -fsanitize=fuzzer-no-link,address,undefined \
	    -DPOSTERN_FUZZ -MMD -MP -c $< -o $@

build/libpostern.a: $(OBJ)
	rm -f $@; ar rcs $@ $^
build/asan/libpostern.a: $(ASAN_OBJ)
	rm -f $@; ar rcs $@ $^
build/fuzz/libpostern.a: $(FUZZ_OBJ)
	rm -f $@; ar rcs $@ $^

# The program links every object (not the archive) so that each command's
# entry point in src/cli/ is present; see src/main.c.
build/postern: build/obj/src/main.o $(OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)
build/asan/postern: build/asan/obj/src/main.o $(ASAN_OBJ)
	$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(LIBS)

build/asan/tests/%: tests/unit/%.c build/asan/libpostern.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -Itests/unit -o $@ $< \
	    build/asan/libpostern.a $(LIBS) -lcmocka
build/fuzz/%: tests/fuzz/%.c build/fuzz/libpostern.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -O1 -fsanitize=fuzzer,address,undefined \
	    -o $@ $< build/fuzz/libpostern.a $(LIBS)

asan: build/asan/postern $(UNIT_BIN)

run: deps build/postern
	./build/postern serve

# Every test: unit (ASan+UBSan), black-box against the ASan binary, and a
# short fuzz run of each parser.
check:
	@scripts/deps.sh check
	$(MAKE) --no-print-directory -j$(NPROC) build/postern asan $(FUZZ_BIN)
	scripts/run-unit.sh $(UNIT_BIN)
	FUZZ_SECONDS=5 scripts/run-fuzz.sh $(FUZZ_BIN)
	POSTERN=$(CURDIR)/build/asan/postern $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/integration

unit: $(UNIT_BIN)
	scripts/run-unit.sh $(UNIT_BIN)

integration: build/asan/postern
	POSTERN=$(CURDIR)/build/asan/postern $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/integration

fuzz: $(FUZZ_BIN)
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-fuzz.sh $(FUZZ_BIN)

bench: build/postern
	@scripts/deps.sh bench
	bench/run.sh

install: build/postern
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/doc/postern
	install -m 755 build/postern $(DESTDIR)$(PREFIX)/sbin/postern
	install -m 644 postern.conf.example README.md docs/*.md \
	    $(DESTDIR)$(PREFIX)/share/doc/postern/

clean:
	rm -rf build

-include $(shell find build/obj build/asan/obj build/fuzz/obj -type f -name '*.d' 2>/dev/null)
