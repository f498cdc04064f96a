// BelongsTo keeps references to both repositories.
// expect: deleted
#include <string>

#include <stratum/repository.hpp>

struct Author {
    long id = 0;
};
struct Book {
    long id = 0;
    long author_id = 0;
};

extern const stratum::Model<Author> author_model;
extern const stratum::Model<Book> book_model;

void use()
{
    stratum::Repository<Book> books(book_model);
    stratum::BelongsTo<Book, Author, long> by_author(books, "author_id", &Book::author_id,
                                                     stratum::Repository<Author>(author_model),
                                                     &Author::id);
    (void)by_author;
}
