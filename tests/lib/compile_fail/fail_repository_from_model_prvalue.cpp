// A Repository from a Model returned by value.
// expect: deleted
#include <string>

#include <stratum/repository.hpp>

struct Note {
    long id = 0;
    std::string body;
};

stratum::Model<Note> note_model();

void use()
{
    stratum::Repository<Note> notes(note_model());
    (void)notes;
}
