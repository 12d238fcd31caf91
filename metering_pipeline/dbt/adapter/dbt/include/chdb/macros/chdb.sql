{#- The chdb adapter adds no macros: dbt dispatches chdb__ first, then dbt-clickhouse (dependencies=["clickhouse"]), then default. This file keeps the macro path in git. -#}
