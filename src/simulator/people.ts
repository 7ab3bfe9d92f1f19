/**
 * Branches and the fake but plausible names and e-mail addresses of simulated members.
 * Addresses use the reserved example.* domains (RFC 2606), so none can reach a real person.
 */
import type { Random } from '../util/random';

export interface BranchSpec {
  name: string;
  /** Share of the library's membership registered here. */
  size: number;
}

export const BRANCHES: readonly BranchSpec[] = [
  { name: 'Central Library', size: 0.3 },
  { name: 'Riverside', size: 0.15 },
  { name: 'Northgate', size: 0.14 },
  { name: 'Kingsmead', size: 0.12 },
  { name: 'Hollybrook', size: 0.11 },
  { name: 'Westfield', size: 0.1 },
  { name: 'Harbourside', size: 0.08 },
];

const FIRST_NAMES = [
  'Olivia', 'Amelia', 'Isla', 'Ava', 'Mia', 'Grace', 'Sophia', 'Lily', 'Freya', 'Emily', 'Ivy', 'Ella', 'Rosie',
  'Evie', 'Florence', 'Poppy', 'Charlotte', 'Willow', 'Isabella', 'Sienna', 'Daisy', 'Phoebe', 'Alice', 'Ruby',
  'Matilda', 'Harriet', 'Eleanor', 'Imogen', 'Jessica', 'Hannah', 'Chloe', 'Lucy', 'Sarah', 'Emma', 'Rebecca',
  'Laura', 'Rachel', 'Claire', 'Helen', 'Karen', 'Susan', 'Margaret', 'Patricia', 'Elizabeth', 'Catherine', 'Joanne',
  'Nicola', 'Amanda', 'Gemma', 'Zara', 'Aisha', 'Fatima', 'Priya', 'Anjali', 'Mei', 'Yasmin', 'Maryam', 'Zainab',
  'Agnieszka', 'Katarzyna', 'Oliwia', 'Siobhan', 'Niamh', 'Aoife', 'Bethan', 'Carys', 'Megan', 'Rhiannon', 'Joan',
  'Brenda', 'Pauline', 'Sheila', 'Valerie', 'Beryl',
  'Oliver', 'George', 'Noah', 'Arthur', 'Leo', 'Muhammad', 'Harry', 'Oscar', 'Archie', 'Henry', 'Theodore', 'Freddie',
  'Jack', 'Charlie', 'Thomas', 'Jacob', 'Alfie', 'Finley', 'Isaac', 'Edward', 'James', 'William', 'Joshua', 'Samuel',
  'Daniel', 'Matthew', 'Benjamin', 'Joseph', 'Luke', 'Ryan', 'Adam', 'David', 'Michael', 'Paul', 'Andrew', 'Mark',
  'Richard', 'Stephen', 'Peter', 'John', 'Robert', 'Christopher', 'Simon', 'Ian', 'Graham', 'Keith', 'Colin', 'Derek',
  'Nigel', 'Trevor', 'Alan', 'Brian', 'Kenneth', 'Ahmed', 'Omar', 'Yusuf', 'Ibrahim', 'Arjun', 'Rohan', 'Ravi',
  'Sanjay', 'Wei', 'Jun', 'Tomasz', 'Piotr', 'Jakub', 'Kacper', 'Ciaran', 'Declan', 'Eoin', 'Rhys', 'Dylan', 'Gareth',
  'Owain', 'Kwame', 'Kofi', 'Tunde', 'Marcus', 'Nathan', 'Elliot', 'Reuben',
];

const SURNAMES = [
  'Smith', 'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Johnson', 'Davies', 'Robinson', 'Wright', 'Thompson',
  'Evans', 'Walker', 'White', 'Roberts', 'Green', 'Hall', 'Wood', 'Jackson', 'Clarke', 'Patel', 'Khan', 'Lewis',
  'James', 'Phillips', 'Mason', 'Mitchell', 'Rose', 'Davis', 'Rodriguez', 'Cox', 'Alexander', 'Morgan', 'Moore',
  'Mills', 'King', 'Adams', 'Garcia', 'Morris', 'Baker', 'Harris', 'Hughes', 'Edwards', 'Turner', 'Hill', 'Cooper',
  'Ward', 'Allen', 'Carter', 'Scott', 'Young', 'Harrison', 'Martin', 'Price', 'Bennett', 'Gray', 'Kelly', 'Lee',
  'Bailey', 'Collins', 'Shaw', 'Parker', 'Lloyd', 'Bell', 'Murphy', 'Richards', 'Cook', 'Watson', 'Marshall', 'Griffiths',
  'Owen', 'Ellis', 'Stevens', 'Webb', 'Chapman', 'Fletcher', 'Hunt', 'Knight', 'Holmes', 'Barnes', 'Lawrence', 'Dixon',
  'Fox', 'Pearce', 'Gibson', 'Hussain', 'Ali', 'Begum', 'Ahmed', 'Singh', 'Kaur', 'Sharma', 'Chen', 'Wang', 'Nguyen',
  'Kowalski', 'Nowak', 'Wiśniewska', "O'Brien", "O'Connor", 'Byrne', 'MacDonald', 'Campbell', 'Stewart', 'Reid',
  'Okafor', 'Mensah', 'Adeyemi', 'Osei', 'Hart', 'Fisher', 'Saunders', 'Pritchard', 'Vaughan', 'Hopkins', 'Powell',
  'Rees', 'Howells', 'Whitfield', 'Ashworth', 'Cartwright', 'Thornton', 'Pemberton', 'Hargreaves', 'Blackwell',
];

const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net'];

export interface MemberIdentity {
  name: string;
  email: string;
}

function emailLocalPart(first: string, last: string, rng: Random): string {
  const f = first.normalize('NFD').replace(/[^A-Za-z]/g, '').toLowerCase();
  const l = last.normalize('NFD').replace(/[^A-Za-z]/g, '').toLowerCase();
  switch (rng.int(4)) {
    case 0:
      return `${f}.${l}`;
    case 1:
      return `${f}${l}${10 + rng.int(90)}`;
    case 2:
      return `${f[0]}${l}`;
    default:
      return `${f}_${l}${rng.int(10)}`;
  }
}

/**
 * Draws a member's name and a unique address; `taken` holds the addresses already given out,
 * and a clash gets the member id appended, as a real sign-up form would force.
 */
export function drawIdentity(memberId: number, rng: Random, taken: Set<string>): MemberIdentity {
  const first = FIRST_NAMES[rng.int(FIRST_NAMES.length)]!;
  const last = SURNAMES[rng.int(SURNAMES.length)]!;
  const local = emailLocalPart(first, last, rng);
  const domain = EMAIL_DOMAINS[rng.int(EMAIL_DOMAINS.length)]!;
  let email = `${local}@${domain}`;
  if (taken.has(email)) email = `${local}.${memberId}@${domain}`;
  taken.add(email);
  return { name: `${first} ${last}`, email };
}
