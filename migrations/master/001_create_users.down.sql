-- The table takes its policies, triggers and indexes with it.
DROP TABLE users;
