// The safe spellings of what the fail_*.cpp snippets try: these must compile.
#include <string>
#include <tuple>

#include <stratum/pool.hpp>
#include <stratum/repository.hpp>

struct Author {
    long id = 0;
};
struct Book {
    long id = 0;
    long author_id = 0;
    std::string title;
};

const stratum::Model<Author> author_model = stratum::Model<Author>("authors").key("id", &Author::id);
const stratum::Model<Book> book_model = stratum::Model<Book>("books")
                                            .key("id", &Book::id, stratum::generated())
                                            .field("author_id", &Book::author_id)
                                            .field("title", &Book::title, stratum::required());

void use(stratum::Pool &pool, const stratum::TenantId &tenant)
{
    stratum::Result result = pool.query(tenant, "SELECT title FROM books LIMIT 1");
    stratum::Row row = result.one_row();
    std::string title = row["title"].as<std::string>();
    auto [id, name] = pool.query(tenant, "SELECT 1, 'x'").one_row_as<int, std::string>();
    long n = pool.query(tenant, "SELECT count(*) FROM books").value<long>();
    for (stratum::Row each : pool.query(tenant, "SELECT title FROM books"))
        title += each[0].as<std::string>();
    std::string first = pool.query(tenant, "SELECT title FROM books")[0][0].view().empty() ? "" : "x";
    pool.query(tenant, {.actor = "user:42"}, "UPDATE books SET title = $1 WHERE id = $2", title, id);

    stratum::Repository<Author> authors(author_model);
    stratum::Repository<Book> books(book_model);
    stratum::BelongsTo<Book, Author, long> by_author(books, "author_id", &Book::author_id, authors,
                                                     &Author::id);
    stratum::Lease lease = pool.acquire(tenant);
    stratum::Tx tx(*lease, tenant);
    (void)name;
    (void)n;
    (void)first;
    (void)by_author;
}
