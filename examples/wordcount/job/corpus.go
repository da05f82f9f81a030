package job

import (
	"math/rand/v2"
	"strings"
)

// vocabulary is what the files are made of. Words are drawn with a Zipf
// distribution, as in real text: a few are everywhere, most are rare.
var vocabulary = strings.Fields(`
	the of and to in is that it was for on are as with his they at be this
	from have or by one had not but what all were when we there can an your
	which their said if do will each about how up out them then she many some
	so these would other into has more her two like him see time could no make
	than first been its who now people my made over did down only way find use
	may water long little very after words called just where most know get
	through back much go good new write our me man too any day same right look
	think also around another came come work three word must because does part
	even place well such here take why things help put years different away
	again off went old number great tell men say small every found still
	between name should home big give air line set own under read last never
	us left end along while might next sound below saw something thought both
	few those always looked show large often together asked house world going
	want school important until form food keep children feet land side without
	boy once animals life enough took sometimes four head above kind began
	almost live page got earth need far hand high year mother light parts
	country father let night following picture being study second eyes soon
	times story boys since white days ever paper hard near sentence better
	best across during today others however sure means knew seen try told young
	miles sun ways thing whole hear example heard several change answer room
	sea against top turned learn point city play toward five using himself
	usually gopher`)

// File returns the words of file i of the corpus of s.
func (s Spec) File(i int) []string {
	r := rand.New(rand.NewPCG(s.Seed+uint64(i), 0))
	zipf := rand.NewZipf(r, 1.2, 4, uint64(len(vocabulary)-1))
	words := make([]string, s.WordsPerFile)
	for j := range words {
		words[j] = vocabulary[zipf.Uint64()]
	}
	return words
}
