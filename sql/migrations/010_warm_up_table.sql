-- The job rehearses its JDBC append at start-up (pipeline/scoring_query.warm_up) into this
-- table, with the columns of scored_transactions, so the first micro-batch does not run the
-- writer's path in code the JVM has not compiled yet. Every rehearsed row carries the same
-- transaction_id: the first is stored, the rest are ignored duplicates, so the table keeps
-- one row and the server does almost no work. A migration that changes the columns of
-- scored_transactions changes this table the same way (a test compares them).

CREATE TABLE IF NOT EXISTS scored_transactions_warm_up LIKE scored_transactions;
