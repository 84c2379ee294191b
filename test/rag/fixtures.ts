/**
 * A small document folder written for the RAG tests: ten files on different topics, each long enough to be
 * cut into several chunks, and ten questions whose answer sits in one known chunk (found by `answerPhrase`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const DOCUMENTS: Record<string, string> = {
  'garden/tomatoes.md': `# Growing tomatoes

## Sowing
Start tomato seeds indoors six to eight weeks before the last spring frost. Sow them a quarter inch deep in
seed compost and keep the trays warm, around 24 degrees Celsius, until the seedlings appear.

## Watering
Tomatoes need deep, regular watering: about five centimetres of water per week, given at the base of the plant
in the morning. Irregular watering causes blossom end rot and split fruit.

## Pruning
Pinch out the side shoots (suckers) that grow between the main stem and the leaf branches on cordon varieties.
Bush varieties need no pruning.
`,
  'garden/bees.txt': `Keeping bees in a small garden.

A beginner should start with two hives rather than one, so that the colonies can be compared and frames of brood
moved from a strong colony to a weak one.

Honey is harvested in late summer when at least eighty percent of the frame cells are capped with wax. Leave the
colony enough stores for winter, roughly twenty kilograms of honey.

Swarming happens in spring when the colony outgrows the hive. Adding a super early and removing queen cells
during weekly inspections prevents most swarms.
`,
  'kitchen/bread.md': `# Sourdough bread

## The starter
Feed the sourdough starter with equal weights of flour and water every day. It is ready to bake with when it
doubles in size within six hours of a feeding and smells pleasantly sour.

## Baking
Bake the loaf in a preheated cast iron pot at 250 degrees Celsius for twenty minutes with the lid on, then
remove the lid and bake another twenty five minutes until the crust is deep brown.

## Storing
Keep the bread cut side down on a wooden board for two days, or slice and freeze it.
`,
  'kitchen/coffee.md': `# Brewing coffee

## Grind size
Espresso needs a very fine grind, close to powdered sugar. A French press needs a coarse grind like sea salt,
or the metal filter lets the sediment through.

## Water temperature
Brew with water between 90 and 96 degrees Celsius. Boiling water scorches the grounds and makes the cup bitter.

## Ratio
A good starting ratio for filter coffee is sixty grams of ground coffee per litre of water.
`,
  'travel/japan.md': `# Travelling in Japan

## Rail pass
The Japan Rail Pass covers most Shinkansen bullet trains except the fastest Nozomi and Mizuho services. It must
be bought before arriving and activated at a JR office.

## Etiquette
Take off your shoes when entering homes, temples and traditional inns. Tipping is not customary and may confuse
staff in restaurants.

## Money
Many small shops and rural restaurants only take cash, so carry yen; convenience store ATMs accept foreign cards.
`,
  'travel/hiking.txt': `Mountain hiking safety.

Check the weather forecast the evening before and again in the morning; turn back if thunderstorms are expected
in the afternoon, because summits and ridges attract lightning.

Pack the ten essentials: map, compass, headlamp, extra food, extra water, extra clothes, first aid kit, knife,
fire starter and sun protection.

Tell someone your route and the time you expect to return, so a search can start if you do not come back.
`,
  'tech/git.md': `# Git basics

## Undoing a commit
To undo the last commit but keep its changes in the working tree, run git reset --soft HEAD~1. To throw the changes
away as well, use git reset --hard HEAD~1, which cannot be undone.

## Branches
Create a branch with git switch -c name and merge it back with git merge name from the main branch.

## Stashing
git stash saves uncommitted changes aside so that the working tree is clean; git stash pop brings them back.
`,
  'tech/backups.md': `# Backing up a laptop

## The 3-2-1 rule
Keep three copies of your data, on two different kinds of storage media, with one copy offsite, for example in
cloud storage or at a friend's house.

## Schedules
Run an incremental backup every night and a full backup every week. Incremental backups only copy files that
changed since the previous backup.

## Testing restores
A backup is only useful if it can be restored: restore a few random files every month to check.
`,
  'health/sleep.md': `# Sleeping well

## Caffeine
Caffeine has a half-life of about five hours, so an afternoon espresso still keeps half its effect at bedtime.
Avoid coffee and tea after two in the afternoon.

## Bedroom
Keep the bedroom dark, quiet and cool, around eighteen degrees Celsius. Screens emit blue light that delays
melatonin, so put phones away an hour before bed.

## Naps
Short naps of twenty minutes improve alertness without leaving you groggy.
`,
  'health/running.txt': `Training for a first marathon.

Build weekly mileage by no more than ten percent per week to avoid injuries such as shin splints and stress fractures.

The long run, done once a week at an easy conversational pace, should reach about thirty two kilometres three
weeks before race day.

Taper during the final three weeks by cutting mileage while keeping some faster running, so that the legs are
fresh on the start line.
`,
};

export interface Question {
  question: string;
  path: string;
  /** Words that only the right chunk of that file contains. */
  answerPhrase: string;
}

export const QUESTIONS: Question[] = [
  {
    question: 'How often and how much should I water tomato plants?',
    path: 'garden/tomatoes.md',
    answerPhrase: 'five centimetres',
  },
  {
    question: 'When is honey ready to harvest from the hive?',
    path: 'garden/bees.txt',
    answerPhrase: 'capped with wax',
  },
  {
    question: 'How do I know my sourdough starter is ready for baking?',
    path: 'kitchen/bread.md',
    answerPhrase: 'doubles in size',
  },
  { question: 'What grind does a French press need?', path: 'kitchen/coffee.md', answerPhrase: 'coarse grind' },
  {
    question: 'Which bullet trains are not covered by the Japan Rail Pass?',
    path: 'travel/japan.md',
    answerPhrase: 'Nozomi',
  },
  {
    question: 'What should I pack for a mountain hike? What are the essentials?',
    path: 'travel/hiking.txt',
    answerPhrase: 'ten essentials',
  },
  { question: 'How can I undo my last git commit?', path: 'tech/git.md', answerPhrase: 'reset --soft' },
  { question: 'What is the 3-2-1 backup rule about copies?', path: 'tech/backups.md', answerPhrase: 'three copies' },
  {
    question: 'Why does caffeine in the afternoon hurt sleep at bedtime?',
    path: 'health/sleep.md',
    answerPhrase: 'half-life',
  },
  {
    question: 'How fast should weekly mileage increase when training for a marathon?',
    path: 'health/running.txt',
    answerPhrase: 'ten percent',
  },
];

export function writeDocuments(folder: string, documents: Record<string, string> = DOCUMENTS): void {
  for (const [path, text] of Object.entries(documents)) {
    mkdirSync(dirname(join(folder, path)), { recursive: true });
    writeFileSync(join(folder, path), text);
  }
}
