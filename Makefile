# stratum: PGXS build of the extension, plus the project's top-level targets.
#   make / make install / make installcheck   the extension (PGXS)
#   make demo    everything, end to end, on a throwaway cluster
#   make test    the whole test suite (pg_regress + GoogleTest) on throwaway servers
#   make bench   benchmarks against their peers, printed as ratios
#   make fuzz    libFuzzer targets, FUZZ_SECONDS (default 60) each
#   make soak    load and failover soak (bounded: SOAK_SECONDS, default 60)

EXTENSION   = stratum
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" stratum.control)

MODULE_big  = stratum
OBJS        = $(patsubst %.cpp,%.o,$(wildcard extension/*.cpp))
DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*--*.sql))

REGRESS      = setup boundary tenant_context tenant_suspension tenancy isolation_report \
               isolation_oracle isolation_parallel isolation_roles \
               audit audit_transactions audit_security audit_retention audit_forgery \
               ledger_checksum ledger_apply ledger_rollback ledger_locks ledger_plan \
               ledger_tenants ledger_encoding escape escape_audit escape_names
REGRESS_OUTPUTDIR ?= regress
REGRESS_OPTS = --inputdir=regress --outputdir=$(REGRESS_OUTPUTDIR)

PG_CONFIG  ?= pg_config
PG_CXXFLAGS = -std=c++20 -Wno-register -Wall -Wextra -Wno-unused-parameter \
              -Wno-missing-field-initializers -fno-omit-frame-pointer
SHLIB_LINK  = -lstdc++ -lcrypto
EXTRA_CLEAN = regress/results regress/regression.diffs regress/regression.out .pg-build-id

# Debian's PGXS would compile every .cpp to LLVM bitcode with flags that
# ignore PG_CXXFLAGS; the extension does not need JIT inlining.
override with_llvm = no
# Rebuild objects when a header they include changes.
override autodepend = yes

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Objects compiled against one server's headers must never be linked for
# another: when PG_CONFIG names a different PostgreSQL than the last build,
# the objects go first (make PG_CONFIG=/opt/pg18/bin/pg_config just works).
PG_BUILD_ID := $(shell $(PG_CONFIG) --version) $(shell $(PG_CONFIG) --includedir-server)
ifneq ($(PG_BUILD_ID),$(shell cat .pg-build-id 2>/dev/null))
$(shell rm -f $(OBJS) $(MODULE_big).so; echo '$(PG_BUILD_ID)' > .pg-build-id)
endif

sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/parts/*.sql))
	cat $^ > $@

# make install also installs the client (the libraries libstratum,
# libstratum-migrate and libstratum-service with their headers, pkg-config
# files and CMake package, and the stratum command) under CLIENT_PREFIX,
# honouring DESTDIR like PGXS does; make install-client installs the client
# alone. Run paths are relative ($ORIGIN), so any prefix works without
# ldconfig. STRATUM_CLIENT=no installs the extension alone (the test harness
# does, for its private server tree).
CLIENT_PREFIX    ?= /usr/local
CLIENT_BUILD_DIR ?= build/install
ifneq ($(STRATUM_CLIENT),no)
install: install-client
endif
.PHONY: install-client
install-client:
	cmake -S . -B '$(CLIENT_BUILD_DIR)' -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_INSTALL_PREFIX='$(CLIENT_PREFIX)' -DSTRATUM_BUILD_TESTS=OFF -DSTRATUM_BUILD_BENCH=OFF >/dev/null
	cmake --build '$(CLIENT_BUILD_DIR)' -j2
	DESTDIR='$(DESTDIR)' cmake --install '$(CLIENT_BUILD_DIR)' >/dev/null

FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 60
.PHONY: demo test bench fuzz soak format check-version
demo:
	scripts/demo.sh
test:
	scripts/test.sh
bench:
	scripts/bench.sh
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh
soak:
	SOAK_SECONDS=$(SOAK_SECONDS) scripts/soak.sh
format:
	clang-format -i $(wildcard extension/*.cpp extension/*.hpp)

# The version lives in stratum.control; META.json must agree.
check-version:
	@grep -q '"version": "$(EXTVERSION)"' META.json || \
	  { echo "META.json does not carry version $(EXTVERSION)"; exit 1; }
