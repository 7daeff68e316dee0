# Installs wxtoken for C programs:
#   make install [PREFIX=/usr/local] [DESTDIR=/staging]
# puts include/wxtoken.h, lib/libwxtoken.so.X.Y.Z (soname libwxtoken.so.X) with
# its links, lib/libwxtoken.a, lib/pkgconfig/wxtoken.pc and bin/wxtoken under
# PREFIX, and the PHP FFI header under share/wxtoken/. Other targets:
#   make            cargo build --release, plus the link target/release/libwxtoken.so.X
#                   the loader needs to run a program linked to the build tree
#   make uninstall  removes what install put there
#   make test-c     bindings/c/run-tests.sh (C tests, valgrind, install check)

PREFIX     ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
LIBDIR     ?= $(EXEC_PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(EXEC_PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
DESTDIR    ?=

CARGO      ?= cargo
INSTALL    ?= install
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
RELEASE    := $(TARGET_DIR)/release

VERSION := $(shell sed -n 's/^version = "\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))
SONAME  := libwxtoken.so.$(MAJOR)
REALNAME := libwxtoken.so.$(VERSION)

# In wxtoken.pc, directories under PREFIX are written relative to ${prefix},
# so `pkg-config --define-variable=prefix=...` can relocate them.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

.PHONY: all build install uninstall test-c check-header

all: build

build:
	$(CARGO) build --release
	ln -sfn libwxtoken.so $(RELEASE)/$(SONAME)

install: build
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(DATADIR)/wxtoken
	$(INSTALL) -m 644 include/wxtoken.h $(DESTDIR)$(INCLUDEDIR)/wxtoken.h
	$(INSTALL) -m 644 include/wxtoken_ffi.h $(DESTDIR)$(DATADIR)/wxtoken/wxtoken_ffi.h
	$(INSTALL) -m 755 $(RELEASE)/libwxtoken.so $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sfn $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libwxtoken.so
	$(INSTALL) -m 644 $(RELEASE)/libwxtoken.a $(DESTDIR)$(LIBDIR)/libwxtoken.a
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(call pc_dir,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' \
	    wxtoken.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/wxtoken.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/wxtoken.pc
	$(INSTALL) -m 755 $(RELEASE)/wxtoken $(DESTDIR)$(BINDIR)/wxtoken

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/wxtoken.h \
	      $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libwxtoken.so $(DESTDIR)$(LIBDIR)/libwxtoken.a \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/wxtoken.pc $(DESTDIR)$(BINDIR)/wxtoken \
	      $(DESTDIR)$(DATADIR)/wxtoken/wxtoken_ffi.h
	-rmdir $(DESTDIR)$(DATADIR)/wxtoken 2>/dev/null

test-c:
	bash bindings/c/run-tests.sh

check-header:
	bash bindings/c/check-header.sh
