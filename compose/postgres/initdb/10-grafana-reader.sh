#!/bin/bash
# Runs once, when the Postgres volume is first initialised: the role `turnover_reader`, to which
# the migrations grant SELECT on the views without personal columns (predictions_public,
# model_performance, ...; docs/privacy.md#who-can-read-it), and Grafana's login role, a member
# of it. Neither can read a table: no employee id, input or explanation reaches Grafana.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v reader_password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE turnover_reader NOLOGIN;
CREATE ROLE grafana_reader LOGIN PASSWORD :'reader_password' IN ROLE turnover_reader;
GRANT CONNECT ON DATABASE :"DBNAME" TO grafana_reader;
GRANT USAGE ON SCHEMA public TO turnover_reader;
SQL
