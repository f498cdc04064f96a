// stratum::Repository<T>: CRUD, find by id, paging and batch insert for a
// Model<T>, always inside a tenant transaction (the tenant's rows only: RLS
// does the filtering). Validation runs before any round trip. BelongsTo
// loads a parent's children or children's parents in one query (no N+1).
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "stratum/model.hpp"
#include "stratum/tx.hpp"

namespace stratum {

struct Page {
    std::size_t limit = 100;
    std::size_t offset = 0;
};

namespace detail {
void require_tenant(const Tx &tx, const std::string &table);
}  // namespace detail

template <class T>
class Repository {
public:
    // Rows per INSERT statement in insert_many (PostgreSQL takes at most 65535 parameters).
    static constexpr std::size_t max_rows_per_insert = 1000;

    // Keeps a reference to `model`, which must outlive the repository (a
    // namespace-scope const Model, typically). A temporary Model does not
    // compile.
    explicit Repository(const Model<T> &&model) = delete;
    explicit Repository(const Model<T> &model) : model_(model)
    {
        const auto &columns = model_.columns();
        for (std::size_t i = 0; i < columns.size(); i++) {
            select_list_ += (i ? ", " : "") + columns[i].quoted;
            if (columns[i].written() || (columns[i].key && !columns[i].generated))
                written_.push_back(i);
        }
        if (written_.empty())
            throw UsageError("model for " + model_.table() + " has no column to write");
        const std::string &key = model_.key_column().quoted;
        select_ = "SELECT " + select_list_ + " FROM " + model_.quoted_table();
        find_sql_ = select_ + " WHERE " + key + " = $1";
        list_sql_ = select_ + " ORDER BY " + key + " LIMIT $1 OFFSET $2";
        delete_sql_ = "DELETE FROM " + model_.quoted_table() + " WHERE " + key + " = $1";
        count_sql_ = "SELECT count(*) FROM " + model_.quoted_table();
        update_sql_ = "UPDATE " + model_.quoted_table() + " SET ";
        int n = 1;
        for (std::size_t i : written_) {
            if (columns[i].key)
                continue;
            n++;
            update_sql_ += (n > 2 ? ", " : "") + columns[i].quoted + " = $" + std::to_string(n);
        }
        update_sql_ += " WHERE " + key + " = $1 RETURNING " + select_list_;
        updatable_ = n > 1;
    }

    const Model<T> &model() const noexcept { return model_; }

    // INSERT; generated and read-only columns are read back into `row`.
    void insert(Tx &tx, T &row) const
    {
        insert_many(tx, std::span<T>(&row, 1));
    }

    // Validates every row first, then one INSERT ... VALUES (...), (...)
    // per max_rows_per_insert rows: 100 rows are one round trip.
    void insert_many(Tx &tx, std::span<T> rows) const
    {
        detail::require_tenant(tx, model_.table());
        for (const T &row : rows)
            model_.validate(row);
        const std::size_t per_statement =
            std::min(max_rows_per_insert, static_cast<std::size_t>(65535) / written_.size());
        std::vector<Statement> statements;
        for (std::size_t start = 0; start < rows.size(); start += per_statement) {
            const std::size_t n = std::min(per_statement, rows.size() - start);
            Statement s{insert_sql(n), Params()};
            for (std::size_t r = 0; r < n; r++)
                bind_written(rows[start + r], s.params);
            statements.push_back(std::move(s));
        }
        if (statements.empty())
            return;
        std::vector<Result> results = tx.exec_batch(statements);
        std::size_t r = 0;
        for (const Result &result : results)
            for (std::size_t i = 0; i < result.size(); i++)
                load(rows[r++], result[i]);
    }

    template <class K>
    std::optional<T> find(Tx &tx, const K &id) const
    {
        detail::require_tenant(tx, model_.table());
        Result result = tx.exec(find_sql_, Params(id));
        std::optional<Row> row = result.optional_row();
        if (!row)
            return std::nullopt;
        T out{};
        load(out, *row);
        return out;
    }

    // Ordered by the key.
    std::vector<T> list(Tx &tx, Page page = {}) const
    {
        detail::require_tenant(tx, model_.table());
        return load_all(tx.exec(list_sql_, Params(page.limit, page.offset)));
    }

    // Rows whose `column` equals value.
    template <class V>
    std::vector<T> find_by(Tx &tx, std::string_view column, const V &value) const
    {
        detail::require_tenant(tx, model_.table());
        return load_all(tx.exec(select_ + " WHERE " + model_.column(column).quoted + " = $1 ORDER BY " +
                                    model_.key_column().quoted,
                                Params(value)));
    }

    // Rows whose `column` is any of values, in one query.
    template <class V>
    std::vector<T> find_by_any(Tx &tx, std::string_view column, const std::vector<V> &values) const
    {
        detail::require_tenant(tx, model_.table());
        if (values.empty())
            return {};
        return load_all(tx.exec(select_ + " WHERE " + model_.column(column).quoted + " = ANY($1) ORDER BY " +
                                    model_.key_column().quoted,
                                Params(values)));
    }

    // UPDATE by key; read-only columns (e.g. updated_at) are read back. False when no such row.
    bool update(Tx &tx, T &row) const
    {
        detail::require_tenant(tx, model_.table());
        model_.validate(row);
        if (!updatable_)
            throw UsageError("model for " + model_.table() + " has no column to update");
        Params params;
        model_.key_column().bind(row, params);
        const auto &columns = model_.columns();
        for (std::size_t i : written_)
            if (!columns[i].key)
                columns[i].bind(row, params);
        Result result = tx.exec(update_sql_, params);
        if (result.empty())
            return false;
        load(row, result[0]);
        return true;
    }

    template <class K>
    bool remove(Tx &tx, const K &id) const
    {
        detail::require_tenant(tx, model_.table());
        return tx.exec(delete_sql_, Params(id)).affected_rows() > 0;
    }

    std::size_t count(Tx &tx) const
    {
        detail::require_tenant(tx, model_.table());
        return tx.exec(count_sql_, Params()).template value<std::size_t>();
    }

private:
    std::string insert_sql(std::size_t rows) const
    {
        const auto &columns = model_.columns();
        std::string sql = "INSERT INTO " + model_.quoted_table() + " (";
        for (std::size_t k = 0; k < written_.size(); k++)
            sql += (k ? ", " : "") + columns[written_[k]].quoted;
        sql += ") VALUES ";
        int n = 1;
        for (std::size_t r = 0; r < rows; r++) {
            sql += r ? ", (" : "(";
            for (std::size_t k = 0; k < written_.size(); k++, n++)
                sql += (k ? ", $" : "$") + std::to_string(n);
            sql += ')';
        }
        return sql + " RETURNING " + select_list_;
    }
    void bind_written(const T &row, Params &params) const
    {
        for (std::size_t i : written_)
            model_.columns()[i].bind(row, params);
    }
    void load(T &row, const Row &result) const
    {
        const auto &columns = model_.columns();
        for (std::size_t i = 0; i < columns.size(); i++)
            columns[i].load(row, result[static_cast<int>(i)]);
    }
    std::vector<T> load_all(const Result &result) const
    {
        std::vector<T> out(result.size());
        for (std::size_t i = 0; i < result.size(); i++)
            load(out[i], result[i]);
        return out;
    }

    const Model<T> &model_;
    std::vector<std::size_t> written_;  // columns an INSERT sets
    std::string select_list_, select_, find_sql_, list_sql_, delete_sql_, count_sql_, update_sql_;
    bool updatable_ = false;
};

// Child rows pointing at a parent through a foreign key column: each method
// is one query, whatever the number of parents or children.
template <class Child, class Parent, class K>
class BelongsTo {
public:
    // Keeps references to both repositories, which must outlive it; a
    // temporary Repository does not compile.
    BelongsTo(const Repository<Child> &&, std::string, K Child::*, const Repository<Parent> &,
              K Parent::*) = delete;
    BelongsTo(const Repository<Child> &, std::string, K Child::*, const Repository<Parent> &&,
              K Parent::*) = delete;
    BelongsTo(const Repository<Child> &&, std::string, K Child::*, const Repository<Parent> &&,
              K Parent::*) = delete;
    BelongsTo(const Repository<Child> &children, std::string foreign_key, K Child::*child_fk,
              const Repository<Parent> &parents, K Parent::*parent_key)
        : children_(children), parents_(parents), foreign_key_(std::move(foreign_key)),
          child_fk_(child_fk), parent_key_(parent_key)
    {
        children_.model().column(foreign_key_);  // throws when the model has no such column
    }

    std::vector<Child> children_of(Tx &tx, const Parent &parent) const
    {
        return children_.find_by(tx, foreign_key_, parent.*parent_key_);
    }
    // Every parent's children, in one query; parents without children map to nothing.
    std::unordered_map<K, std::vector<Child>> children_of(Tx &tx, std::span<const Parent> parents) const
    {
        std::vector<K> keys;
        for (const Parent &p : parents)
            keys.push_back(p.*parent_key_);
        std::unordered_map<K, std::vector<Child>> out;
        for (Child &child : children_.find_by_any(tx, foreign_key_, keys))
            out[child.*child_fk_].push_back(std::move(child));
        return out;
    }
    std::optional<Parent> parent_of(Tx &tx, const Child &child) const
    {
        return parents_.find(tx, child.*child_fk_);
    }
    // Every child's parent, in one query, by parent key.
    std::unordered_map<K, Parent> parents_of(Tx &tx, std::span<const Child> children) const
    {
        std::vector<K> keys;
        for (const Child &c : children)
            if (std::find(keys.begin(), keys.end(), c.*child_fk_) == keys.end())
                keys.push_back(c.*child_fk_);
        std::unordered_map<K, Parent> out;
        for (Parent &parent : parents_.find_by_any(tx, parents_.model().key_column().name, keys))
            out.emplace(parent.*parent_key_, std::move(parent));
        return out;
    }

private:
    const Repository<Child> &children_;
    const Repository<Parent> &parents_;
    std::string foreign_key_;
    K Child::*child_fk_;
    K Parent::*parent_key_;
};

}  // namespace stratum
