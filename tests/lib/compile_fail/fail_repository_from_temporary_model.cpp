// A Repository keeps a reference to its Model: built from the temporary of a
// builder chain, it would dangle.
// expect: deleted
#include <string>

#include <stratum/repository.hpp>

struct Note {
    long id = 0;
    std::string body;
};

void use()
{
    stratum::Repository<Note> notes(
        stratum::Model<Note>("notes").key("id", &Note::id, stratum::generated()).field("body", &Note::body));
    (void)notes;
}
